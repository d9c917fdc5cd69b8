"""One translate request, from the summary to stored records: decide what it needs, embed, translate, store."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from edge_worker.api_client import ApiRejected, ApiUnavailable
from edge_worker.catalog import SystemCatalog
from edge_worker.jobs import systems_to_translate
from edge_worker.logs import logger
from edge_worker.model_thread import Cancelled, ModelThread
from edge_worker.ports import CloudApi, TranslatorLike
from edge_worker.records import RecordStore
from edge_worker.search_sync import SearchSync
from edge_worker.status import WorkerStatus
from schemas.contracts import TranslateRequest
from schemas.edge_api import EdgeSummary
from schemas.system_definition import SystemDefinition


class Translations:
    """Runs requests on the model thread, one summary at a time, counting into `status`.

    `stopping` set: no new work (Cancelled); `abandon` set: the translation in flight stops at its next token.
    `on_done` runs after each translated summary (the worker writes its status file); `on_error` reports what the
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
    ) -> None:
        self.api, self.catalog, self.translator, self.records, self.search = api, catalog, translator, records, search
        self.status, self.model, self.stopping, self.abandon, self.on_done = status, model, stopping, abandon, on_done
        self.on_error = on_error

    def process(self, request: TranslateRequest) -> int:
        """Translate what the request needs and store it; returns how many systems were translated.

        Raises Cancelled when stopping, ApiUnavailable when the summary cannot be read, ApiRejected when the cloud
        refuses to give it; a record or embedding the cloud refuses is reported through on_error, the rest stored.
        """
        if request.system and self.catalog.get(request.system) is None:
            logger.warning(
                "request for an unknown system skipped", system=request.system, summary_id=request.summary_id
            )
            return 0
        # One summary at a time, read after the one before is stored: the queue and reconcile never both do it.
        return self.model.call(self._process, request)

    def reconcile(self) -> int:
        """Find summarized sessions with a missing or outdated system JSON (a lost message), and do them.

        A summary that fails is reported and the pass goes on; ApiUnavailable and Cancelled end the pass.
        """
        done, token = 0, None
        while not self.stopping.is_set():
            page = self.api.pending_page(token)
            for item in page.items:
                stored = {name: state.model_dump() for name, state in item.systems.items()}
                missing = systems_to_translate(
                    self.catalog.current(), stored, self.translator.model_version, force=False
                )
                if missing or (self.search and self.search.needs_embedding(item)):
                    request = TranslateRequest(
                        summary_id=item.summary_id, reason="backfill", request_id=f"reconcile-{int(time.time())}"
                    )
                    try:
                        done += self.process(request)
                    except (Cancelled, ApiUnavailable):
                        raise
                    except Exception as error:
                        self.on_error(f"reconcile {item.summary_id}: {type(error).__name__}: {error}")
            token = page.next
            if not token:
                break
        return done

    def _process(self, request: TranslateRequest) -> int:
        if self.stopping.is_set():
            raise Cancelled("the worker is stopping: no new work")
        summary = self.api.summary(request.summary_id)
        if request.task == "embed":
            self._embed(request, summary, force=True)
            return 0
        stored = {name: state.model_dump() for name, state in summary.systems.items()}
        refresh = request.reason == "refresh"
        todo = systems_to_translate(self._requested(request), stored, self.translator.model_version, force=refresh)
        if not refresh:
            self._embed(request, summary, force=False)
        if not todo:
            return 0
        started = time.perf_counter()
        translations = self.translator.translate(
            request.summary_id, summary.text, todo, checkpoint=self._between_tokens
        )
        self.status.translated += len(translations)
        for definition, translation in zip(todo, translations, strict=True):
            try:
                outcome = self.records.store(request, definition, translation.document, stored.get(definition.name))
            except ApiRejected as error:  # this system's record only; reconcile tries it again later
                self.on_error(f"storing {definition.name} for {request.summary_id}: {error}")
                continue
            if outcome == "kept":
                self.status.outboxed += 1
                logger.warning(
                    "API unreachable: result kept in the outbox", summary_id=request.summary_id, system=definition.name
                )
            elif outcome == "stored":
                self.status.stored += 1
            elif outcome == "unchanged":
                self.status.unchanged += 1
        logger.info(
            "translated",
            summary_id=request.summary_id,
            systems=[s.name for s in todo],
            reason=request.reason,
            seconds=round(time.perf_counter() - started, 3),
        )
        self.on_done()
        return len(translations)

    def _requested(self, request: TranslateRequest) -> list[SystemDefinition]:
        """The one system a request names (if still defined), else every current system."""
        if not request.system:
            return self.catalog.current()
        definition = self.catalog.get(request.system)
        return [definition] if definition else []

    def _between_tokens(self) -> bool:
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
            self.on_error(f"embedding {request.summary_id}: {error}")
