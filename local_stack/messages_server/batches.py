"""The Message Batches runner: a server's batches, processed in one background thread, in order."""

from __future__ import annotations

import queue
import sys
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from edge_worker.model_thread import Cancelled
from local_stack.messages_server.backend import Backend
from local_stack.messages_server.protocol import RequestError, error_object, message_body, rfc3339


@dataclass
class Batch:
    id: str
    requests: list[dict[str, Any]]
    headers: dict[str, str]
    created_at: datetime
    ended_at: datetime | None = None
    results: list[dict[str, Any]] = field(default_factory=list)

    def view(self, base_url: str) -> dict[str, Any]:
        """The batch as the API shows it; results_url is under `base_url` once the batch has ended."""
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if self.ended_at is None:  # like the API: requests count as processing until the whole batch ends
            counts["processing"] = len(self.requests)
        else:
            for result in self.results:
                counts[result["result"]["type"]] += 1
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": "ended" if self.ended_at else "in_progress",
            "request_counts": counts,
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.created_at + timedelta(hours=24)),
            "ended_at": rfc3339(self.ended_at),
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{base_url}/v1/messages/batches/{self.id}/results" if self.ended_at else None,
        }


class BatchRunner:
    """Holds the server's Message Batches and processes them in one background thread, in order."""

    def __init__(self, backend: Backend, stopping: threading.Event):
        self.backend = backend
        self._stopping = stopping
        self._lock = threading.Lock()
        self._batches: dict[str, Batch] = {}
        self._queue: queue.Queue[Batch | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="messages-batches", daemon=True)
        self._thread.start()

    def create(self, requests: list[dict[str, Any]], headers: dict[str, str]) -> Batch:
        batch = Batch(f"msgbatch_local_{uuid.uuid4().hex[:24]}", requests, headers, datetime.now(UTC))
        with self._lock:
            self._batches[batch.id] = batch
        self._queue.put(batch)
        return batch

    def get(self, batch_id: str) -> Batch:
        """The batch, or RequestError (404)."""
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None:
            raise RequestError(404, f"no message batch with id {batch_id!r}")
        return batch

    def all(self) -> list[Batch]:
        """Newest first."""
        with self._lock:
            return sorted(self._batches.values(), key=lambda batch: batch.created_at, reverse=True)

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _work(self) -> None:
        while (batch := self._queue.get()) is not None:
            results = []
            for request in batch.requests:
                results.append(
                    {"custom_id": request["custom_id"], "result": self._run(request["params"], batch.headers)}
                )
            with self._lock:
                batch.results, batch.ended_at = results, datetime.now(UTC)

    def _run(self, params: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        try:
            outcome = self.backend.decide(params, headers)
            if outcome.kind == "hang" and self._stopping.wait(outcome.seconds):
                return {"type": "canceled"}
            if outcome.kind == "expire":
                return {"type": "expired"}
            if outcome.kind == "error":
                return _errored(outcome.status, outcome.message)
            generation = self.backend.generate(params, params["model"])
            message = message_body(params["model"], generation, outcome.text, outcome.stop_reason)
            return {"type": "succeeded", "message": message}
        except Cancelled:
            return {"type": "canceled"}
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            return _errored(500, f"backend failed: {type(error).__name__}: {error}")


def _errored(status: int, message: str) -> dict[str, Any]:
    return {"type": "errored", "error": {"type": "error", "error": error_object(status, message)}}
