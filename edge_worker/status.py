"""The worker's status: counters and the last error, written to status.json for `ssp-edge status`."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from edge_worker.config import write_private


@dataclass
class WorkerStatus:
    model: str = ""
    model_version: str = ""
    translated: int = 0  # system documents written by the model
    stored: int = 0  # ... and stored as a new record version
    unchanged: int = 0  # ... and equal to the stored version
    outboxed: int = 0  # ... and kept in the outbox (API unreachable)
    failed: int = 0  # (summary, system) pairs that could not be translated (reported by system name)
    embedding_version: str = ""
    embedded: int = 0
    queries_answered: int = 0
    last_error: str | None = None
    last_error_at: str | None = None  # UTC, ISO 8601
    broken_files: list[str] = field(default_factory=list)

    def record_error(self, message: str) -> None:
        self.last_error = message
        self.last_error_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class StatusFile:
    """status.json, replaced whole on each write (several threads report)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, status: WorkerStatus, *, outbox: int | None, dead_letters: int | None, systems: list[str]) -> None:
        """`outbox`: entries waiting, `dead_letters`: entries set aside (None once the outbox is closed);
        `systems`: the names translated for."""
        data = {
            **dataclasses.asdict(status),
            "outbox": outbox,
            "dead_letters": dead_letters,
            "systems": systems,
            "updated_at": time.time(),
        }
        with self._lock:
            write_private(self.path, json.dumps(data, indent=2))
