"""One translate request, from the summary to stored records: decide what it needs, embed, translate, store."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from edge_worker.api_client import ApiRejected, ApiUnavailable
from edge_worker.catalog import SystemCatalog
from edge_worker.jobs import TranslationJob, systems_to_translate
from edge_worker.logs import logger
from edge_worker.model_thread import Cancelled, ModelThread
from edge_worker.ports import CloudApi, TranslatorLike
from edge_worker.progress import Progress
from edge_worker.records import RecordStore
from edge_worker.search_sync import SearchSync
from edge_worker.status import WorkerStatus
from schemas.contracts import TranslateRequest
from schemas.edge_api import EdgeSummary
from schemas.system_definition import SystemDefinition

RECONCILE_CHUNK = 10  # summaries per model call: other work waits at most one chunk


def _rounds(requests: list[tuple[int, TranslateRequest]]) -> Iterator[list[tuple[int, TranslateRequest]]]:
    """The requests in rounds where each summary appears at most once, in their order."""
    waiting = list(requests)
    while waiting:
        seen: set[str] = set()
        round_: list[tuple[int, TranslateRequest]] = []
        later: list[tuple[int, TranslateRequest]] = []
        for item in waiting:
            (later if item[1].summary_id in seen else round_).append(item)
            seen.add(item[1].summary_id)
        yield round_
        waiting = later


def _translate_ms(outcome: Any) -> int | None:
    """The milliseconds a translation's decoding took (its stats), when the translator measured them."""
    seconds = getattr(getattr(outcome, "stats", None), "seconds", None)
    return None if seconds is None else round(seconds * 1000)


class Translations:
    """Runs requests on the model thread, a batch of summaries at a time, counting into `status`.

    `stopping` set: no new work (Cancelled); `abandon` set: the translation in flight stops at its next token.
    `on_done` runs after each translated batch (the worker writes its status file); `on_error` reports what the
    cloud refused for one summary or system, and the work goes on with the others.
    """

    def __init__(
        self,
        api: CloudApi,
        catalog: SystemCatalog,
        translator: TranslatorLike,
        records: RecordStore,
        search: SearchSync | None,
        status: WorkerStatus,
        *,
        model: ModelThread,
        stopping: threading.Event,
        abandon: threading.Event,
        on_done: Callable[[], None],
        on_error: Callable[[str], None],
        progress: Progress | None = None,
    ) -> None:
        self.api, self.catalog, self.translator, self.records, self.search = api, catalog, translator, records, search
        self.status, self.model, self.stopping, self.abandon, self.on_done = status, model, stopping, abandon, on_done
        self.on_error, self.progress = on_error, progress
        self.listed: set[str] | None = None  # the summary ids of the last complete reconcile pass

    def process(self, request: TranslateRequest) -> int:
        """Translate what the request needs and store it; returns how many systems were translated.

        Raises Cancelled when stopping, ApiUnavailable when the summary cannot be read, ApiRejected when the cloud
        refuses to give it; a record or embedding the cloud refuses is reported through on_error, the rest stored.
        """
        [result] = self.process_many([request])
        if isinstance(result, Exception):
            raise result
        return result

    def process_many(
        self, requests: Sequence[TranslateRequest], batch_size: int | None = None
    ) -> list[int | Exception]:
        """Several requests, their (summary, system) pairs decoded together (`batch_size` at a time).

        One result per request, in order: the systems translated, or the exception that stopped that request alone
        (ApiUnavailable, ApiRejected, ...). Raises Cancelled when stopping.
        """
        results: list[int | Exception] = [0] * len(requests)
        known = []
        for index, request in enumerate(requests):
            if request.system and self.catalog.get(request.system) is None:
                logger.warning(
                    "request for an unknown system skipped", system=request.system, summary_id=request.summary_id
                )
            else:
                known.append(index)
        # One summary at a time per round, read after the one before is stored: the queue and reconcile never both
        # translate it, and two requests for one summary never race each other.
        for round_ in _rounds([(index, requests[index]) for index in known]):
            done = self.model.call(self._process_round, [request for _, request in round_], batch_size)
            for (index, _), result in zip(round_, done, strict=True):
                results[index] = result
        return results

    def reconcile(self) -> int:
        """Find summarized sessions with a missing or outdated system JSON (a lost message), and do them; a pass
        that reaches the listing's end leaves the ids it saw in `listed`.

        A summary that fails is reported and the pass goes on; ApiUnavailable and Cancelled end the pass.
        """
        done, token, listed = 0, None, set()
        while not self.stopping.is_set():
            page = self.api.pending_page(token)
            listed |= {item.summary_id for item in page.items}
            wanted = []
            for item in page.items:
                stored = {name: state.model_dump() for name, state in item.systems.items()}
                current = self.catalog.current()
                missing = systems_to_translate(
                    self._served(current), stored, self.translator.model_version, False, self._adapters(current)
                )
                if missing or (self.search and self.search.needs_embedding(item)):
                    wanted.append(
                        TranslateRequest(
                            summary_id=item.summary_id, reason="backfill", request_id=f"reconcile-{int(time.time())}"
                        )
                    )
            for start in range(0, len(wanted), RECONCILE_CHUNK):
                chunk = wanted[start : start + RECONCILE_CHUNK]
                for request, result in zip(chunk, self.process_many(chunk), strict=True):
                    if isinstance(result, ApiUnavailable):
                        raise result
                    if isinstance(result, ApiRejected) and result.summary_gone:
                        logger.info("summary gone: reconcile skips it", summary_id=request.summary_id)
                    elif isinstance(result, Exception):
                        self.on_error(f"reconcile {request.summary_id}: {type(result).__name__}: {result}")
                    else:
                        done += result
            token = page.next
            if not token:
                self.listed = listed
                break
        return done

    def _process_round(self, requests: list[TranslateRequest], batch_size: int | None) -> list[int | Exception]:
        if self.stopping.is_set():
            raise Cancelled("the worker is stopping: no new work")
        results: list[int | Exception] = [0] * len(requests)
        work: list[tuple[int, TranslateRequest, EdgeSummary, list[SystemDefinition]]] = []
        for index, request in enumerate(requests):
            try:
                planned = self._plan(request)
            except Cancelled:
                raise
            except Exception as error:  # this request only; the message comes back later
                results[index] = error
                continue
            if planned is not None:
                work.append((index, request, *planned))
        if not work:
            return results
        started = time.perf_counter()
        jobs = [TranslationJob(request.summary_id, summary.text, todo) for _, request, summary, todo in work]
        pairs = sum(len(job.systems) for job in jobs)
        reasons = {request.reason for _, request, _, _ in work}
        reason = "refresh" if "refresh" in reasons else "new" if "new" in reasons else "backfill"
        # The systems each summary's request asked for (and still needed), for the terminal's "(1/1 systems)".
        logger.info("translating", systems={job.summary_id: [s.name for s in job.systems] for job in jobs})
        if self.progress:
            self.progress.start([(job.summary_id, len(job.systems)) for job in jobs], reason)
        kept: dict[str, int] = {}  # summary id -> systems stored (or kept for sending)
        dropped: dict[str, int] = {}  # summary id -> results dropped because the summary was deleted meanwhile
        try:
            # Not capped at the pairs: a pair decoded bullet by bullet brings several sequences.
            outcomes = self.translator.translate_many(jobs, checkpoint=self.between_steps, batch_size=batch_size)
            for (index, request, summary, todo), translated in zip(work, outcomes, strict=True):
                try:
                    results[index] = self._store(request, summary, todo, translated, kept, dropped)
                except Cancelled:
                    raise
                except Exception as error:
                    results[index] = error
        finally:
            if self.progress:
                self.progress.finish()
        logger.info(
            "translated",
            summaries=[request.summary_id for _, request, _, _ in work],
            pairs=pairs,
            stored=kept,
            dropped=dropped,
            reason=sorted(reasons),
            seconds=round(time.perf_counter() - started, 3),
        )
        self.on_done()
        return results

    def _plan(self, request: TranslateRequest) -> tuple[EdgeSummary, list[SystemDefinition]] | None:
        """Read the summary, embed it if needed; (summary, systems to translate), or None when nothing is left."""
        refresh = request.reason == "refresh"
        summary = self.api.summary(request.summary_id, request.request_id if refresh else None)
        if request.task == "embed":
            self._embed(request, summary, force=True)
            return None
        stored = {name: state.model_dump() for name, state in summary.systems.items()}
        requested = self._requested(request)
        adapters = self._adapters(requested)
        todo = systems_to_translate(self._served(requested), stored, self.translator.model_version, refresh, adapters)
        done = [s.name for s in todo if s.name in summary.stored_for_request] if refresh else []
        if done:  # this refresh's message came back after a stop
            logger.info("refresh resumed", summary_id=request.summary_id, systems=done)
            todo = [s for s in todo if s.name not in done]
        if not refresh:
            self._embed(request, summary, force=False)
        return (summary, todo) if todo else None

    def _store(
        self,
        request: TranslateRequest,
        summary: EdgeSummary,
        todo: list[SystemDefinition],
        translated: Sequence[Any],
        kept: dict[str, int],
        dropped: dict[str, int],
    ) -> int:
        """Store each translated system; a system that failed (or that the cloud refused) is reported by name and
        the others are stored. Counts into `kept` what is stored and into `dropped` what a deletion threw away."""
        stored = {name: state.model_dump() for name, state in summary.systems.items()}
        count, gone = 0, False
        for definition, outcome in zip(todo, translated, strict=True):
            error = getattr(outcome, "error", None)
            if error is not None:
                self.status.failed += 1
                self.status.record_error(f"summary {request.summary_id}, system {definition.name}: {error}")
                logger.error("translation failed", summary_id=request.summary_id, system=definition.name, error=error)
                continue
            count += 1
            self.status.translated += 1
            if gone:
                dropped[request.summary_id] += 1
                continue
            try:
                outcome_ = self.records.store(
                    request,
                    definition,
                    outcome.document,
                    stored.get(definition.name),
                    _translate_ms(outcome),
                    _adapter_of(outcome),
                )
            except ApiRejected as rejected:  # this system's record only; reconcile tries it again later
                gone = rejected.summary_gone  # deleted while it was being translated: the other results go too
                if gone:
                    logger.info("summary gone: results dropped", summary_id=request.summary_id, status=rejected.status)
                    dropped[request.summary_id] = dropped.get(request.summary_id, 0) + 1
                    continue
                self.on_error(f"storing {definition.name} for {request.summary_id}: {rejected}")
                continue
            kept[request.summary_id] = kept.get(request.summary_id, 0) + 1
            if self.progress:
                self.progress.stored(request.summary_id)
            if outcome_ == "kept":
                self.status.outboxed += 1
                logger.warning(
                    "API unreachable: result kept in the outbox", summary_id=request.summary_id, system=definition.name
                )
            elif outcome_ == "stored":
                self.status.stored += 1
            elif outcome_ == "unchanged":
                self.status.unchanged += 1
        return count

    def _adapters(self, systems: list[SystemDefinition]) -> Mapping[str, str]:
        """system -> the LoRA adapter version the translator applies to it (reading the adoptions again)."""
        return self.translator.adapter_versions(systems)

    def _served(self, systems: list[SystemDefinition]) -> list[SystemDefinition]:
        """The systems as the translator prompts them (after _adapters read the adoptions): their lineage is the
        records' lineage."""
        return [self.translator.served(system) for system in systems]

    def _requested(self, request: TranslateRequest) -> list[SystemDefinition]:
        """The one system a request names (if still defined), else every current system."""
        if not request.system:
            return self.catalog.current()
        definition = self.catalog.get(request.system)
        return [definition] if definition else []

    def between_steps(self) -> bool:
        """Search queries waiting for an embedding go first; True once the grace period at stop is over."""
        self.model.run_urgent()
        return self.abandon.is_set()

    def _embed(self, request: TranslateRequest, summary: EdgeSummary, force: bool) -> None:
        if not self.search or not (force or self.search.needs_embedding(summary)):
            return
        refresh_id = request.request_id if request.reason == "refresh" else None
        try:
            self.status.embedded += self.search.embed_summary(request.summary_id, summary.text, refresh_id)
        except ApiRejected as error:  # the translations still go ahead
            if not error.summary_gone:
                self.on_error(f"embedding {request.summary_id}: {error}")


def _adapter_of(outcome: Any) -> str | None:
    """The adapter a translation was made with (its lineage says so; a translation without lineage used none)."""
    return getattr(getattr(outcome, "lineage", None), "translator_adapter_version", None)
