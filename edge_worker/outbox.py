"""A durable, ordered outbox (SQLite): API requests that wait here while the API is unreachable, and the dead
letters beside them: requests the API refused for good, set aside so the rest keep flowing, never deleted."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_worker.config import open_private, private_dir

_COLUMNS = "id, method, path, body, attempts, retry_at"
_ADDED_COLUMNS = {"attempts": "INTEGER NOT NULL DEFAULT 0", "retry_at": "REAL NOT NULL DEFAULT 0"}


@dataclass(frozen=True)
class Entry:
    id: int
    method: str
    path: str
    body: Any
    attempts: int = 0  # tries the API failed on its side (5xx)
    retry_at: float = 0.0  # epoch seconds before which it is not tried again


@dataclass(frozen=True)
class DeadLetter:
    id: int
    method: str
    path: str
    body: Any
    reason: str
    attempts: int
    set_aside_at: str  # UTC, ISO 8601


class OutboxError(Exception):
    """The outbox file cannot be opened or is not an outbox database; the message names the file."""


class Outbox:
    """First in, first out; safe to share between threads. The file survives restarts."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the outbox at `path`; OutboxError when its folder or file is not usable."""
        try:
            private_dir(path.parent)
        except OSError as exc:
            raise OutboxError(f"{path}: cannot create its folder ({exc.strerror or exc})") from None
        for own in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if own == path or own.exists():  # SQLite gives its -wal and -shm files the database's mode
                with contextlib.suppress(OSError), open_private(own, "ab"):  # not a file: sqlite3 says so below
                    pass
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise OutboxError(f"{path}: cannot open the outbox ({exc})") from None
        try:
            self._open_tables()
        except sqlite3.Error as exc:
            self._db.close()
            raise OutboxError(f"{path}: not a usable outbox database ({exc})") from None
        self._lock = threading.Lock()

    def _open_tables(self) -> None:
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "method TEXT NOT NULL, path TEXT NOT NULL, body TEXT NOT NULL)"
        )
        present = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
        for column, definition in _ADDED_COLUMNS.items():  # an outbox file from before dead letters
            if column not in present:
                self._db.execute(f"ALTER TABLE outbox ADD COLUMN {column} {definition}")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS dead_letters (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "method TEXT NOT NULL, path TEXT NOT NULL, body TEXT NOT NULL, reason TEXT NOT NULL, "
            "attempts INTEGER NOT NULL, set_aside_at TEXT NOT NULL)"
        )

    def add(self, method: str, path: str, body: Any, attempts: int = 0, retry_at: float = 0.0) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO outbox (method, path, body, attempts, retry_at) VALUES (?, ?, ?, ?, ?)",
                (method, path, json.dumps(body), attempts, retry_at),
            )

    def oldest(self) -> Entry | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM outbox ORDER BY id LIMIT 1").fetchone()
        return None if row is None else Entry(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5])

    def remove(self, entry: Entry) -> None:
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE id = ?", (entry.id,))

    def failed(self, entry: Entry, retry_at: float) -> int:
        """Count one more try the API failed; the entry waits until `retry_at`. Returns the tries so far."""
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, retry_at = ? WHERE id = ?", (retry_at, entry.id)
            )
            row = self._db.execute("SELECT attempts FROM outbox WHERE id = ?", (entry.id,)).fetchone()
        return int(row[0]) if row else entry.attempts + 1

    def set_aside(self, entry: Entry, reason: str) -> None:
        """Move the entry to the dead letters, in one transaction: it stops holding up the rest and is kept."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT attempts FROM outbox WHERE id = ?", (entry.id,)).fetchone()
                self._db.execute(
                    "INSERT INTO dead_letters (method, path, body, reason, attempts, set_aside_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (entry.method, entry.path, json.dumps(entry.body), reason, row[0] if row else entry.attempts, now),
                )
                self._db.execute("DELETE FROM outbox WHERE id = ?", (entry.id,))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The oldest `limit` dead letters."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, method, path, body, reason, attempts, set_aside_at FROM dead_letters ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        return [DeadLetter(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6]) for r in rows]

    def requeue_dead_letters(self) -> int:
        """Put every dead letter back at the end of the outbox (oldest first, tries reset); returns how many."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                moved = self._db.execute(
                    "INSERT INTO outbox (method, path, body) SELECT method, path, body FROM dead_letters ORDER BY id"
                ).rowcount
                self._db.execute("DELETE FROM dead_letters")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return int(moved)

    def drop_dead_letters(self, path_prefixes: list[str]) -> int:
        """Delete the dead letters whose path starts with one of `path_prefixes` (a deleted summary's uploads);
        returns how many."""
        with self._lock:
            return sum(
                self._db.execute(
                    "DELETE FROM dead_letters WHERE substr(path, 1, ?) = ?", (len(prefix), prefix)
                ).rowcount
                for prefix in path_prefixes
            )

    def size(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def dead_letter_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0])

    def close(self) -> None:
        self._db.close()
