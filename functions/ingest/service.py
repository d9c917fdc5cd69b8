"""Accepting a session: store it raw, record it RECEIVED, queue it; all or nothing. Status and retry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.errors import ClientError, not_found
from functions.http.auth import Principal
from functions.queues import SummarizeQueue
from functions.stores.sessions import SessionStore
from schemas.contracts import Session, SessionStatus, SummarizeRequest


@dataclass
class Accepted:
    created: bool  # False when the same session was already accepted
    item: dict[str, Any]


class IngestService:
    def __init__(self, sessions: SessionStore, queue: SummarizeQueue, max_turns: int) -> None:
        self.sessions, self.queue, self.max_turns = sessions, queue, max_turns

    def accept(self, session: Session, caller: Principal) -> Accepted:
        """Store, record and queue a new session; the same content again is accepted once.

        Raises 403 (token bound to another source), 413 (too many turns), 422 (every turn blank), 409 (same id,
        other content, or a session of that id being deleted).
        """
        caller.require_source(session.source)
        if len(session.turns) > self.max_turns:
            raise ClientError(
                "too_many_turns", f"session has {len(session.turns)} turns; the limit is {self.max_turns}", status=413
            )
        content_hash = session.content_hash()
        existing = self.sessions.get(session.session_id)
        if existing:
            return Accepted(False, self._same_or_conflict(existing, content_hash))
        if session.says_nothing():
            raise ClientError(
                "empty_session",
                "every turn is blank (only whitespace or invisible characters): there is nothing to summarize",
                status=422,
            )
        key, version = self.sessions.put_raw(session, content_hash)
        try:
            item = self.sessions.create(session, content_hash, key)
        except Exception:
            self.sessions.delete_raw(key, version)
            raise
        if item is None:  # lost a race with a concurrent POST of the same id
            winner = self.sessions.get(session.session_id) or {}
            if winner.get("content_hash") != content_hash:
                self.sessions.delete_raw(key, version)
            return Accepted(False, self._same_or_conflict(winner, content_hash))
        try:
            self.queue.send(SummarizeRequest(session_id=session.session_id, content_hash=content_hash))
        except Exception:
            self.sessions.remove_unqueued(session.session_id, content_hash)
            self.sessions.delete_raw(key, version)
            raise
        return Accepted(True, item)

    def status(self, session_id: str, caller: Principal) -> dict[str, Any]:
        """The session's item; a token without the read scope sees only its own source's sessions (another
        source's is a 404, as an unknown id: a subsystem does not learn which ids the others use)."""
        item = self._get(session_id)
        if not caller.has("read"):
            self._own(item, caller)
        return item

    def retry(self, session_id: str, caller: Principal) -> dict[str, Any]:
        """Queue a FAILED session again (409 for any other status; 404 for another source's session)."""
        item = self._get(session_id)
        self._own(item, caller)
        if not self.sessions.reopen_failed(session_id):
            raise ClientError(
                "not_failed",
                f"session {session_id} is {item['status']}; only {SessionStatus.FAILED.value} sessions can be retried",
                status=409,
            )
        self.queue.send(SummarizeRequest(session_id=session_id, content_hash=item["content_hash"]))
        return self.sessions.get(session_id) or item

    @staticmethod
    def _own(item: dict[str, Any], caller: Principal) -> None:
        try:
            caller.require_source(item["source"])
        except ClientError:
            raise not_found(f"no session {item['session_id']}") from None

    def _get(self, session_id: str) -> dict[str, Any]:
        item = self.sessions.get(session_id)
        if not item:
            raise not_found(f"no session {session_id}")
        return item

    @staticmethod
    def _same_or_conflict(existing: dict[str, Any], content_hash: str) -> dict[str, Any]:
        if existing.get("status") == SessionStatus.DELETING.value:
            session_id = existing.get("session_id")
            raise ClientError(
                "deleting",
                f"session {session_id} is being deleted; post it again once GET /sessions/{session_id} answers 404",
                status=409,
            )
        if existing.get("content_hash") != content_hash:
            raise ClientError(
                "conflict",
                f"session {existing.get('session_id')} was already accepted with different content",
                status=409,
            )
        return existing
