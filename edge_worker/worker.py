"""The edge daemon: long-poll EdgeQueue, translate with the local model, store through the API.

Its loops (threads): the queues (EdgeQueue first: new sessions and user refreshes; BackfillQueue only when it is
empty), the outbox replay, reconcile (work a lost message left undone; then the distilled training rows of
deleted summaries are dropped), and with an embedder the heartbeat and the search-query queue. All model work
runs on one ModelThread; the messages received together decode as one batch, so the batch grows with the queue's
depth (up to SQS's 10 messages per receive).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable
from typing import Any

from edge_worker.api_client import ApiRejected, ApiUnavailable
from edge_worker.catalog import SystemCatalog
from edge_worker.config import EdgeConfig
from edge_worker.delivery import Delivery, summary_of
from edge_worker.distill import forget_deleted
from edge_worker.leases import QueueLeases
from edge_worker.logs import logger
from edge_worker.model_thread import Cancelled, ModelThread
from edge_worker.outbox import Outbox
from edge_worker.ports import CloudApi, EmbedderLike, QueueClient, TranslatorLike
from edge_worker.progress import Progress
from edge_worker.prompting import prompt_content, prompt_version
from edge_worker.records import RecordStore
from edge_worker.search_sync import SearchSync
from edge_worker.status import StatusFile, WorkerStatus
from edge_worker.translations import Translations
from schemas import routes
from schemas.contracts import TranslateRequest
from schemas.edge_api import Heartbeat
from schemas.system_definition import SystemDefinition, SystemDefinitionError

ABANDON_WAIT_S = 10.0  # after the grace period: to the next token (an embedding or API call runs to its end)
RECEIVE_RETRY_S = 5.0  # after a failed receive (network loss)
MAX_RECEIVE = 10  # SQS's largest receive; fewer when a batch holds fewer pairs (config.batch_size)


class EdgeWorker:
    """The worker over its clients (built by runtime.build_worker): the API, the queue, the catalog and the models.

    It keeps its outbox (config.outbox_path) and status file (config.status_path) in the state directory.
    """

    def __init__(
        self,
        config: EdgeConfig,
        api: CloudApi,
        translator: TranslatorLike,
        *,
        catalog: SystemCatalog,
        sqs: QueueClient,
        embedder: EmbedderLike | None = None,
    ) -> None:
        self.config, self.translator, self.catalog, self.api = config, translator, catalog, api
        self.stop_event = threading.Event()
        self.status = WorkerStatus(model=translator.model_info.model_id, model_version=translator.model_version)
        self.outbox = Outbox(config.outbox_path)
        self.delivery = Delivery(
            api, self.outbox, max_attempts=config.outbox_max_attempts, retry_base_s=config.outbox_retry_seconds
        )
        self.edge_queue = QueueLeases(
            sqs,
            config.queue_url,
            wait_seconds=config.wait_seconds,
            visibility_seconds=config.visibility_seconds,
            on_error=self._error,
        )
        self.backfill_queue = (
            QueueLeases(
                sqs,
                config.backfill_queue_url,
                wait_seconds=config.wait_seconds,
                visibility_seconds=config.visibility_seconds,
                on_error=self._error,
            )
            if config.backfill_queue_url
            else None
        )
        self.query_queue = (
            QueueLeases(sqs, config.query_queue_url, wait_seconds=config.wait_seconds, on_error=self._error)
            if config.query_queue_url
            else None
        )
        self.model = ModelThread()
        self.search = SearchSync(api, embedder, self.delivery, self.model, self._error) if embedder else None
        if self.search:
            self.status.embedding_version = self.search.version
        self._status_file = StatusFile(config.status_path)
        self.progress = Progress(sqs, config.queue_url, config.backfill_queue_url)
        self._abandon = threading.Event()  # set when the grace period at stop runs out
        self.translations = Translations(
            api,
            catalog,
            translator,
            RecordStore(api, self.delivery, translator.model_info, translator.model_version),
            self.search,
            self.status,
            model=self.model,
            stopping=self.stop_event,
            abandon=self._abandon,
            on_done=self._write_status,
            on_error=self._error,
            progress=self.progress,
        )
        self._threads: list[threading.Thread] = []
        self._stopped_cleanly: bool | None = None

    # ----- lifecycle -----
    def start(self) -> EdgeWorker:
        changed, errors = self.catalog.reload()
        self._on_systems_changed(changed, errors)
        self.catalog.watch(self._on_systems_changed)
        loops: list[tuple[Callable[[], None], str]] = [
            (self._poll_loop, "edge-poll"),
            (self._flush_loop, "edge-outbox"),
            (self._reconcile_loop, "edge-reconcile"),
            (self._heartbeat_loop, "edge-heartbeat"),
        ]
        if self.search and self.query_queue:
            loops.append((self._query_loop, "edge-queries"))
        for target, name in loops:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        logger.info("edge worker started", model=self.status.model, systems=sorted(self.catalog.systems))
        return self

    def stop(self, grace_s: float = 30.0) -> bool:
        """Let the translation in flight finish within the grace period, else stop it and release its message.

        False when the model thread is still busy (a forward pass or an API call cannot be interrupted): the
        caller should exit without waiting for it. A second call returns the first answer.
        """
        if self._stopped_cleanly is not None:
            return self._stopped_cleanly
        self.stop_event.set()
        self.progress.changed.set()  # wakes the heartbeat loop
        self.catalog.stop()
        if not self._join_loops(grace_s):
            if self.edge_queue.held or (self.backfill_queue and self.backfill_queue.held):  # not an idle long poll
                logger.warning("grace period over: stopping the model work in flight and releasing its message")
            self._abandon.set()
            self._join_loops(ABANDON_WAIT_S)
        self._stopped_cleanly = self.model.close(timeout=ABANDON_WAIT_S)
        if not self._stopped_cleanly:
            logger.warning("the model thread is still busy with work that cannot be interrupted")
        released = self.edge_queue.release_held() + (self.backfill_queue.release_held() if self.backfill_queue else 0)
        if released:
            logger.info("in-flight messages released for later", count=released)
        self._write_status()
        if not any(thread.is_alive() for thread in self._threads):
            self.outbox.close()
        return self._stopped_cleanly

    def _join_loops(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    # ----- systems -----
    def _on_systems_changed(self, changed: list[SystemDefinition], errors: list[SystemDefinitionError]) -> None:
        check = getattr(self.translator, "check", None)
        usable = []
        for definition in changed:  # refused before publishing: the cloud would backfill work that cannot be done
            problem = check(definition) if check else None
            if problem:
                errors = [*errors, self.catalog.refuse(definition, problem)]
            else:
                usable.append(definition)
        self.status.broken_files = [str(error) for error in errors]
        for error in errors:
            logger.warning("broken system definition ignored", problem=str(error))
        for definition in usable:
            # The prompt first: the cloud's backfill skips records already made with it.
            prompt = self.delivery.registry_entry(
                prompt_version(definition), "translator-prompt", prompt_content(definition)
            )
            try:
                sent = self.delivery.send(prompt, self.delivery.system(definition.name, definition.to_dict()))
            except ApiRejected as error:
                self._error(f"publishing {definition.name}: {error}")
                continue
            if not sent.delivered:
                self._error(f"publishing {definition.name}: the API is unreachable; kept in the outbox")
                continue
            logger.info(
                "system published" if sent.answer.changed else "system already published",
                system=definition.name,
                definition_version=sent.answer.definition_version,
                backfill_request_id=sent.answer.backfill_request_id,
            )
        self._prepare_translator()
        self._write_status()

    def _prepare_translator(self) -> None:
        """Compile the current systems' grammars and prefill their prompt prefixes on the model thread, in the
        background; prefix caches no current system uses are deleted."""
        prepare = getattr(self.translator, "prepare", None)
        if prepare is None:
            return

        def run() -> None:
            try:
                failures = self.model.call(prepare, self.catalog.current(), checkpoint=self.translations.between_steps)
            except Cancelled:
                return
            except Exception as error:
                self._error(f"preparing the translator: {type(error).__name__}: {error}")
                return
            for failure in failures:
                self._error(f"system {failure.system} cannot be translated: {failure.error}")

        threading.Thread(target=run, name="edge-prepare", daemon=True).start()

    # ----- the queues -----
    def _serve(self, leases: QueueLeases, max_messages: int, handle: Callable[[dict[str, Any]], None]) -> None:
        """Receive and handle until stopped; Cancelled from `handle` ends the loop."""
        while not self.stop_event.is_set():
            try:
                messages = leases.receive(max_messages)
            except Exception as error:  # network loss: wait and try again
                self._error(f"receiving from {leases.queue_url}: {error}")
                self.stop_event.wait(RECEIVE_RETRY_S)
                continue
            try:
                for message in messages:
                    handle(message)
            except Cancelled:
                return

    def _poll_loop(self) -> None:
        """Urgent work first: the backfill queue is asked only when the edge queue has nothing waiting."""
        while not self.stop_event.is_set():
            try:
                leases, messages = self._next_messages()
            except Exception as error:  # network loss: wait and try again
                self._error(f"receiving work: {error}")
                self.stop_event.wait(RECEIVE_RETRY_S)
                continue
            if not messages:
                continue
            try:
                self._handle_batch(leases, messages)
            except Cancelled:
                return

    def _next_messages(self) -> tuple[QueueLeases, list[dict[str, Any]]]:
        most = min(MAX_RECEIVE, self.config.batch_size)
        if self.backfill_queue is None:
            return self.edge_queue, self.edge_queue.receive(most)
        urgent = self.edge_queue.receive(most, wait_seconds=0)
        if urgent:
            return self.edge_queue, urgent
        backfill = self.backfill_queue.receive(most, wait_seconds=0)
        if backfill:
            return self.backfill_queue, backfill
        return self.edge_queue, self.edge_queue.receive(most)  # both empty: long-poll the urgent one

    def _handle_batch(self, leases: QueueLeases, messages: list[dict[str, Any]]) -> None:
        """Delete each message once its work is stored; give them back at once when stopped; a message whose work
        failed comes back after its timeout. Raises Cancelled when stopped."""
        outcomes: dict[str, str] = {}
        requests: list[tuple[dict[str, Any], TranslateRequest]] = []
        for message in messages:
            try:
                requests.append((message, TranslateRequest.model_validate_json(message["Body"])))
            except ValueError as error:
                self._error(f"message {message['MessageId']}: not a translate request: {error}")
                outcomes[message["MessageId"]] = "keep"
        cancelled = False
        with contextlib.ExitStack() as held:
            receipts = {m["MessageId"]: held.enter_context(leases.hold(m)) for m, _ in requests}
            try:
                results = self.translations.process_many(
                    [request for _, request in requests], batch_size=self.config.batch_size
                )
            except Cancelled:
                cancelled = True
                results = [Cancelled("the worker is stopping")] * len(requests)
            for (message, _), result in zip(requests, results, strict=True):
                if cancelled:
                    break
                if isinstance(result, ApiRejected) and result.summary_gone:  # deleted: nothing to do, nothing to keep
                    logger.info("summary gone: request dropped", message_id=message["MessageId"], status=result.status)
                    outcomes[message["MessageId"]] = "delete"
                elif isinstance(result, Exception):
                    self._error(f"message {message['MessageId']}: {_describe(result)}")
                    outcomes[message["MessageId"]] = "keep"
                else:
                    outcomes[message["MessageId"]] = "delete"
        for message_id, receipt in receipts.items():
            if cancelled:
                leases.release(receipt)
            elif outcomes.get(message_id) == "delete":
                leases.delete(receipt)
        if cancelled:
            logger.info("in-flight messages released for later", count=len(receipts))
            raise Cancelled("the worker is stopping")

    def _query_loop(self) -> None:
        """Search queries want an answer within seconds: their own queue, and urgent calls on the model thread."""
        if self.search and self.query_queue:
            self._serve(self.query_queue, 10, functools.partial(self._answer_query, self.search, self.query_queue))

    def _answer_query(self, search: SearchSync, queries: QueueLeases, message: dict[str, Any]) -> None:
        """Unanswered (stopped, or an error), the search falls back to words when its wait runs out."""
        try:
            self.status.queries_answered += search.answer_query(message["Body"])
        except Cancelled:
            raise
        except Exception as error:
            self._error(f"search query {message['MessageId']}: {type(error).__name__}: {error}")
        queries.delete(message["ReceiptHandle"])

    # ----- background work -----
    def _flush_loop(self) -> None:
        while not self.stop_event.wait(self.config.flush_seconds):
            self.flush_outbox()

    def flush_outbox(self) -> int:
        """Replay the outbox now; returns how many entries left it (sent, or set aside as dead letters)."""
        sent, set_aside, dropped = self.delivery.replay()
        for problem in set_aside:
            self._error(f"outbox entry set aside as a dead letter: {problem}")
        if sent or set_aside or dropped:
            logger.info(
                "outbox flushed",
                sent=sent,
                set_aside=len(set_aside),
                dropped_for_deleted_summaries=dropped,
                remaining=self.outbox.size(),
                dead_letters=self.outbox.dead_letter_count(),
            )
            self._write_status()
        return sent + len(set_aside) + dropped

    def _reconcile_loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.translations.reconcile()
                self.forget_deleted_distillations()
                self.forget_deleted_dead_letters()
            except ApiUnavailable as error:
                self._error(f"reconcile: {error}")
            except Cancelled:
                return
            except Exception as error:  # reported; the next pass tries again
                self._error(f"reconcile: {type(error).__name__}: {error}")
            self.stop_event.wait(self.config.reconcile_seconds)

    def forget_deleted_distillations(self) -> dict[str, int]:
        """Drop the distilled training rows of summaries deleted in the cloud (edge_worker.distill.forget_deleted,
        with the last reconcile pass's listing); system -> rows dropped."""
        dropped = forget_deleted(self.api, self.translations.listed)
        if dropped:
            logger.info("distilled rows of deleted summaries dropped", systems=dropped)
        return dropped

    def forget_deleted_dead_letters(self) -> int:
        """Drop the outbox's dead letters for summaries deleted in the cloud (404/410), asking once for each summary
        the last reconcile pass did not list; returns how many were dropped."""
        listed = self.translations.listed or set()
        named = {summary_of(letter.path) for letter in self.outbox.dead_letters(limit=100_000)}
        gone = []
        for summary_id in sorted({name for name in named if name is not None} - listed):
            try:
                self.api.summary(summary_id)
            except ApiRejected as error:
                if error.summary_gone:
                    gone.append(summary_id)
        dropped = self.outbox.drop_dead_letters([routes.path(routes.EDGE_SUMMARY, summary_id=s) + "/" for s in gone])
        if dropped:
            logger.info("dead letters of deleted summaries dropped", summaries=gone, dead_letters=dropped)
        return dropped

    def _heartbeat_loop(self) -> None:
        """A beat every heartbeat_seconds, and one as soon as the work changes (progress.changed)."""
        while not self.stop_event.is_set():
            self.progress.changed.clear()
            self.heartbeat()
            self.progress.changed.wait(self.config.heartbeat_seconds)

    def heartbeat(self) -> None:
        """Tell the cloud the models this edge runs and what it is doing (Heartbeat); a failure is reported."""
        fields = {"model_id": self.status.model, "model_version": self.status.model_version, **self.progress.fields()}
        if self.search:
            self.search.heartbeat(fields)
            return
        try:
            self.api.heartbeat(Heartbeat(**fields))
        except (ApiUnavailable, ApiRejected) as error:
            self._error(f"heartbeat: {error}")

    # ----- status -----
    def _error(self, message: str) -> None:
        self.status.record_error(message)
        logger.error(message)
        self._write_status()

    def _write_status(self) -> None:
        open_ = not self.stop_event.is_set()
        self._status_file.write(
            self.status,
            outbox=self.outbox.size() if open_ else None,
            dead_letters=self.outbox.dead_letter_count() if open_ else None,
            systems=sorted(self.catalog.systems),
        )


def _describe(error: Exception) -> str:
    return str(error) if isinstance(error, ApiUnavailable) else f"{type(error).__name__}: {error}"
