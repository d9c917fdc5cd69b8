"""A durable, ordered outbox (SQLite): API requests that wait here while the API is unreachable."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Entry:
    id: int
    method: str
    path: str
    body: Any


class Outbox:
    """First in, first out; safe to share between threads. The file survives restarts."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "method TEXT NOT NULL, path TEXT NOT NULL, body TEXT NOT NULL)"
        )
        self._lock = threading.Lock()

    def add(self, method: str, path: str, body: Any) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO outbox (method, path, body) VALUES (?, ?, ?)", (method, path, json.dumps(body))
            )

    def oldest(self) -> Entry | None:
        with self._lock:
            row = self._db.execute("SELECT id, method, path, body FROM outbox ORDER BY id LIMIT 1").fetchone()
        return None if row is None else Entry(row[0], row[1], row[2], json.loads(row[3]))

    def remove(self, entry: Entry) -> None:
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE id = ?", (entry.id,))

    def size(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        self._db.close()
