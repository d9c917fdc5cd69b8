"""Accepting a session: store it raw, record it RECEIVED, queue it; all or nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.common.errors import ClientError
from functions.common.queues import Queues
from functions.common.session_store import SessionStore
from schemas.contracts import Session, SummarizeRequest


@dataclass
class Accepted:
    created: bool  # False when the same session was already accepted
    item: dict[str, Any]


class IngestService:
    def __init__(self, store: SessionStore, queues: Queues) -> None:
        self.store, self.queues = store, queues

    def accept(self, session: Session) -> Accepted:
        content_hash = session.content_hash()
        existing = self.store.get(session.session_id)
        if existing:
            return Accepted(False, self._same_or_conflict(existing, content_hash))
        key, version = self.store.put_raw(session, content_hash)
        try:
            item = self.store.create(session, content_hash, key)
        except Exception:
            self.store.delete_raw(key, version)
            raise
        if item is None:  # lost a race with a concurrent POST of the same id
            winner = self.store.get(session.session_id) or {}
            if winner.get("content_hash") != content_hash:
                self.store.delete_raw(key, version)
            return Accepted(False, self._same_or_conflict(winner, content_hash))
        try:
            self.queues.request_summary(SummarizeRequest(session_id=session.session_id, content_hash=content_hash))
        except Exception:
            self.store.remove_unqueued(session.session_id, content_hash)
            self.store.delete_raw(key, version)
            raise
        return Accepted(True, item)

    def retry(self, session_id: str) -> dict[str, Any]:
        item = self.get(session_id)
        if not self.store.reopen_failed(session_id):
            raise ClientError(
                "not_failed",
                f"session {session_id} is {item['status']}; only FAILED sessions can be retried",
                status=409,
            )
        self.queues.request_summary(SummarizeRequest(session_id=session_id, content_hash=item["content_hash"]))
        return self.store.get(session_id) or item

    def get(self, session_id: str) -> dict[str, Any]:
        item = self.store.get(session_id)
        if not item:
            raise ClientError("not_found", f"no session {session_id}", status=404)
        return item

    @staticmethod
    def _same_or_conflict(existing: dict[str, Any], content_hash: str) -> dict[str, Any]:
        if existing.get("content_hash") != content_hash:
            raise ClientError(
                "conflict",
                f"session {existing.get('session_id')} was already accepted with different content",
                status=409,
            )
        return existing
