"""The edge daemon: long-poll EdgeQueue, translate with the local model, store through the API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import boto3
from aws_lambda_powertools import Logger

from edge_worker.api_client import ApiRejected, ApiUnavailable, EdgeApi
from edge_worker.catalog import SystemCatalog
from edge_worker.config import EdgeConfig
from edge_worker.jobs import is_current, lineage_for, systems_to_translate
from edge_worker.model_thread import Cancelled, ModelThread
from edge_worker.outbox import Outbox
from edge_worker.prompting import prompt_content
from edge_worker.search_sync import SearchSync
from schemas.contracts import TranslateRequest
from schemas.lineage import content_version
from schemas.system_definition import SystemDefinition, SystemDefinitionError

logger = Logger(service="session-summary-pipeline-edge")
GONE = (404, 410)  # the summary was deleted (or never was): its work is dropped
ABANDON_WAIT_S = 10.0  # after the grace period: to the next token (an embedding or API call runs to its end)


class TranslatorLike(Protocol):
    model_version: str
    model_info: Any

    def translate(
        self, summary_id: str, summary_text: str, systems: list, checkpoint: Callable[[], bool] | None = None
    ) -> list: ...


@dataclass
class WorkerStatus:
    model: str = ""
    model_version: str = ""
    translated: int = 0
    stored: int = 0
    unchanged: int = 0
    outboxed: int = 0
    embedding_version: str = ""
    embedded: int = 0
    queries_answered: int = 0
    last_error: str | None = None
    last_error_at: str | None = None
    broken_files: list[str] = field(default_factory=list)


class EdgeWorker:
    def __init__(
        self,
        config: EdgeConfig,
        api: EdgeApi,
        translator: TranslatorLike,
        *,
        catalog: SystemCatalog | None = None,
        sqs=None,
        embedder: Any = None,
    ) -> None:
        self.config, self.api, self.translator = config, api, translator
        self.catalog = catalog or SystemCatalog(config.systems_dirs or None)
        self.sqs = sqs or boto3.client("sqs")
        self.outbox = Outbox(config.state_dir / "outbox.sqlite3")
        self.status = WorkerStatus(model=translator.model_info.model_id, model_version=translator.model_version)
        self.stop_event = threading.Event()
        self._published: set[str] = set()
        self._in_flight: tuple[str, threading.Event] | None = None  # receipt, and the end of its lease renewal
        self._stopped_cleanly: bool | None = None
        self.model = ModelThread()
        self._abandon = threading.Event()  # set when the grace period at stop runs out
        self._status_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.search = SearchSync(api, embedder, self.outbox, self.model, self._error) if embedder else None
        if self.search:
            self.status.embedding_version = self.search.version

    # ----- lifecycle -----
    def start(self) -> EdgeWorker:
        changed, errors = self.catalog.reload()
        self._on_systems_changed(changed, errors)
        self.catalog.watch(self._on_systems_changed)
        loops = [
            (self._poll_loop, "edge-poll"),
            (self._flush_loop, "edge-outbox"),
            (self._reconcile_loop, "edge-reconcile"),
        ]
        if self.search:
            loops.append((self._heartbeat_loop, "edge-heartbeat"))
            if self.config.query_queue_url:
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
        caller should exit without waiting for it.
        """
        if self._stopped_cleanly is not None:
            return self._stopped_cleanly
        self.stop_event.set()
        self.catalog.stop()
        if not self._join_loops(grace_s):
            logger.warning("grace period over: stopping the model work in flight and releasing its message")
            self._abandon.set()
            self._join_loops(ABANDON_WAIT_S)
        self._stopped_cleanly = self.model.close(timeout=ABANDON_WAIT_S)
        if not self._stopped_cleanly:
            logger.warning("the model thread is still busy with work that cannot be interrupted")
        if self._in_flight:
            receipt, renewal = self._in_flight
            renewal.set()
            self._release(receipt)
        self._write_status()
        if not any(thread.is_alive() for thread in self._threads):
            self.outbox.close()
        return self._stopped_cleanly

    def _join_loops(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def _release(self, receipt: str) -> None:
        """Make an unfinished message visible again now, for the next worker or the next start."""
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.config.queue_url, ReceiptHandle=receipt, VisibilityTimeout=0
            )
            logger.info("in-flight message released for later")
        except Exception as error:
            self._error(f"releasing the in-flight message: {error}")

    # ----- systems -----
    def _on_systems_changed(self, changed: list[SystemDefinition], errors: list[SystemDefinitionError]) -> None:
        self.status.broken_files = [str(error) for error in errors]
        for error in errors:
            logger.warning("broken system definition ignored", problem=str(error))
        for definition in changed:
            try:
                published = self.api.put_system(definition.name, definition.to_dict())
                logger.info(
                    "system published",
                    system=definition.name,
                    definition_version=published.get("definition_version"),
                    backfill_request_id=published.get("backfill_request_id"),
                )
            except (ApiUnavailable, ApiRejected) as error:
                self._error(f"publishing {definition.name}: {error}")
                self.outbox.add("PUT", f"/edge/systems/{definition.name}", definition.to_dict())
        self._write_status()

    # ----- the queue -----
    def _poll_loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                messages = self.sqs.receive_message(
                    QueueUrl=self.config.queue_url,
                    MaxNumberOfMessages=1,
                    WaitTimeSeconds=self.config.wait_seconds,
                    VisibilityTimeout=self.config.visibility_seconds,
                ).get("Messages", [])
            except Exception as error:  # network loss: wait and try again
                self._error(f"receiving from the edge queue: {error}")
                self.stop_event.wait(5)
                continue
            for message in messages:
                self._handle_message(message)

    def _handle_message(self, message: dict) -> None:
        receipt, done = message["ReceiptHandle"], threading.Event()
        self._in_flight = (receipt, done)
        renewal = threading.Thread(target=self._extend_visibility, args=(receipt, done), daemon=True)
        renewal.start()
        outcome = "delete"
        try:
            self.process(TranslateRequest.model_validate_json(message["Body"]))
        except Cancelled:
            outcome = "release"
        except ApiUnavailable as error:
            self._error(f"message {message['MessageId']}: {error}")  # stays in the queue; retried later
            outcome = "keep"
        except ApiRejected as error:
            if error.status not in GONE:
                self._error(f"message {message['MessageId']}: {error}")
                outcome = "keep"
            else:  # the summary was deleted: nothing to translate, nothing to keep
                logger.info("summary gone: request dropped", message_id=message["MessageId"], status=error.status)
        except Exception as error:
            self._error(f"message {message['MessageId']}: {type(error).__name__}: {error}")
            outcome = "keep"
        finally:
            done.set()
            renewal.join()  # before a release, so that a late renewal cannot hide the message again
            self._in_flight = None
        if outcome == "release":
            self._release(receipt)
        elif outcome == "delete":
            self.sqs.delete_message(QueueUrl=self.config.queue_url, ReceiptHandle=receipt)

    def _extend_visibility(self, receipt: str, done: threading.Event) -> None:
        interval = max(1.0, self.config.visibility_seconds / 3)
        while not done.wait(interval):
            try:
                self.sqs.change_message_visibility(
                    QueueUrl=self.config.queue_url,
                    ReceiptHandle=receipt,
                    VisibilityTimeout=self.config.visibility_seconds,
                )
            except Exception as error:
                self._error(f"extending visibility: {error}")

    # ----- translation -----
    def process(self, request: TranslateRequest) -> int:
        """Translate what the request needs and store it; returns how many systems were translated."""
        if request.system and self.catalog.get(request.system) is None:
            logger.warning(
                "request for an unknown system skipped", system=request.system, summary_id=request.summary_id
            )
            return 0
        # One summary at a time, read after the one before is stored: the queue and reconcile never both do it.
        return self.model.call(self._process, request)

    def _process(self, request: TranslateRequest) -> int:
        if self.stop_event.is_set():
            raise Cancelled("the worker is stopping: no new work")
        summary = self.api.summary(request.summary_id)
        if request.task == "embed":
            self._embed(request, summary, force=True)
            return 0
        requested = [self.catalog.get(request.system)] if request.system else self.catalog.current()
        todo = systems_to_translate(
            requested, summary.get("systems", {}), self.translator.model_version, force=request.reason == "refresh"
        )
        if request.reason != "refresh":
            self._embed(request, summary, force=False)
        if not todo:
            return 0
        started = time.perf_counter()
        translations = self.translator.translate(
            request.summary_id, summary["text"], todo, checkpoint=self._between_tokens
        )
        self.status.translated += len(translations)
        for definition, translation in zip(todo, translations, strict=True):
            self._store(request, definition, translation.document, summary.get("systems", {}).get(definition.name))
        logger.info(
            "translated",
            summary_id=request.summary_id,
            systems=[s.name for s in todo],
            reason=request.reason,
            seconds=round(time.perf_counter() - started, 3),
        )
        self._write_status()
        return len(translations)

    def _between_tokens(self) -> bool:
        """Search queries waiting for an embedding go first; True once the grace period at stop is over."""
        self.model.run_urgent()
        return self._abandon.is_set()

    def _embed(self, request: TranslateRequest, summary: dict, force: bool) -> None:
        if not self.search or not (force or self.search.needs_embedding(summary)):
            return
        self.status.embedded += self.search.embed_summary(
            request.summary_id, summary["text"], request.request_id if request.reason == "refresh" else None
        )

    def _store(self, request: TranslateRequest, system: SystemDefinition, document: dict, state: dict | None) -> None:
        lineage = lineage_for(system, self.translator.model_version)
        body = {
            "document": document,
            "lineage": lineage,
            "expected_version": int((state or {}).get("version", 0)),
            "request_id": request.request_id if request.reason == "refresh" else None,
        }
        path = f"/edge/summaries/{request.summary_id}/systems/{system.name}"
        try:
            self._publish_lineage(system)
            result = self.api.put_record(request.summary_id, system.name, body)
        except ApiUnavailable:
            self.outbox.add("PUT", path, body)
            self.status.outboxed += 1
            logger.warning(
                "API unreachable: result kept in the outbox", summary_id=request.summary_id, system=system.name
            )
            return
        except ApiRejected as error:
            if error.status != 409:
                raise
            current = self.api.summary(request.summary_id).get("systems", {}).get(system.name)
            if is_current(current, lineage) and request.reason != "refresh":
                return  # another worker stored this very translation first
            body["expected_version"] = int((current or {}).get("version", 0))
            result = self.api.put_record(request.summary_id, system.name, body)
        if result.get("outcome") == "unchanged":
            self.status.unchanged += 1
        else:
            self.status.stored += 1

    def _publish_lineage(self, system: SystemDefinition) -> None:
        """Registry entries for the model and prompt, sent once per process (content-addressed, so idempotent)."""
        entries = [
            ("translator-model", self.translator.model_info.registry_content()),
            ("translator-prompt", prompt_content(system)),
        ]
        for kind, content in entries:
            version_id = content_version(kind, content)
            if version_id not in self._published:
                try:
                    self.api.put_registry(version_id, kind, content)
                except ApiUnavailable:
                    self.outbox.add("PUT", f"/edge/registry/{version_id}", {"kind": kind, "content": content})
                    raise
                self._published.add(version_id)

    # ----- background work -----
    def _flush_loop(self) -> None:
        while not self.stop_event.wait(self.config.flush_seconds):
            self.flush_outbox()

    def flush_outbox(self) -> int:
        sent, rejected = self.outbox.flush(self.api)
        for problem in rejected:
            self._error(f"outbox entry rejected: {problem}")
        if sent:
            logger.info("outbox flushed", sent=sent, remaining=self.outbox.size())
        return sent

    def _reconcile_loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.reconcile()
            except ApiUnavailable as error:
                self._error(f"reconcile: {error}")
            except Cancelled:
                return
            except Exception as error:  # reported; the next pass tries again
                self._error(f"reconcile: {type(error).__name__}: {error}")
            self.stop_event.wait(self.config.reconcile_seconds)

    def reconcile(self) -> int:
        """Find summarized sessions with a missing or outdated system JSON (a lost message), and do them."""
        done, token = 0, None
        while not self.stop_event.is_set():
            page = self.api.pending_page(token)
            for item in page["items"]:
                missing = systems_to_translate(
                    self.catalog.current(), item.get("systems", {}), self.translator.model_version, force=False
                )
                if missing or (self.search and self.search.needs_embedding(item)):
                    done += self.process(
                        TranslateRequest(
                            summary_id=item["summary_id"], reason="backfill", request_id=f"reconcile-{int(time.time())}"
                        )
                    )
            token = page.get("next")
            if not token:
                break
        return done

    # ----- search -----
    def _heartbeat_loop(self) -> None:
        while not self.stop_event.is_set():
            self.search.heartbeat()
            self.stop_event.wait(self.config.heartbeat_seconds)

    def _query_loop(self) -> None:
        """Search queries want an answer within seconds: their own queue, and urgent calls on the model thread."""
        while not self.stop_event.is_set():
            try:
                messages = self.sqs.receive_message(
                    QueueUrl=self.config.query_queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=self.config.wait_seconds,
                ).get("Messages", [])
            except Exception as error:
                self._error(f"receiving from the query queue: {error}")
                self.stop_event.wait(5)
                continue
            for message in messages:
                try:
                    self.status.queries_answered += self.search.answer_query(message["Body"])
                except Cancelled:
                    return  # unanswered: the search falls back to words when its wait runs out
                except Exception as error:  # the search answers with words when its wait runs out
                    self._error(f"search query {message['MessageId']}: {type(error).__name__}: {error}")
                self.sqs.delete_message(QueueUrl=self.config.query_queue_url, ReceiptHandle=message["ReceiptHandle"])

    # ----- status -----
    def _error(self, message: str) -> None:
        self.status.last_error = message
        self.status.last_error_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        logger.error(message)
        self._write_status()

    def _write_status(self) -> None:
        path = self.config.state_dir / "status.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            **self.status.__dict__,
            "outbox": self.outbox.size() if not self.stop_event.is_set() else None,
            "systems": sorted(self.catalog.systems),
            "updated_at": time.time(),
        }
        with self._status_lock:  # several threads report; the file is replaced whole
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=2))
            tmp.replace(path)
