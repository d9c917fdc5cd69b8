"""A durable, ordered outbox (SQLite): results wait here while the API is unreachable."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from edge_worker.api_client import ApiRejected, ApiUnavailable, EdgeApi


class Outbox:
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

    def size(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def flush(self, api: EdgeApi) -> tuple[int, list[str]]:
        """Send in order; stop at the first unreachable send. A rejected entry is dropped and reported."""
        sent, rejected = 0, []
        while True:
            with self._lock:
                row = self._db.execute("SELECT id, method, path, body FROM outbox ORDER BY id LIMIT 1").fetchone()
            if row is None:
                return sent, rejected
            entry_id, method, path, body = row
            try:
                api.send(method, path, json.loads(body))
            except ApiUnavailable:
                return sent, rejected
            except ApiRejected as error:
                rejected.append(f"{method} {path}: {error}")
            with self._lock:
                self._db.execute("DELETE FROM outbox WHERE id = ?", (entry_id,))
            sent += 1

    def close(self) -> None:
        self._db.close()
