"""Deleting for good: every trace of a DELETING session, and the walk over a user's sessions for a deletion job.

Each step is safe to repeat and the session's own item goes last, so work cut short by a fault is finished by
the message coming back. A session still being summarized or distilled is left until its call ends (the call writes
after it), by queueing the purge again a little later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from functions.clock import epoch_seconds, utc_now
from functions.queues import DeletionQueue
from functions.stores.changes import ChangeLog
from functions.stores.deletions import DeletionStore
from functions.stores.embeddings import EmbeddingStore
from functions.stores.exports import ExportArchives
from functions.stores.idempotency import DistillIdempotency, SummaryIdempotency
from functions.stores.index_file import IndexFile
from functions.stores.records import RecordStore
from functions.stores.refresh import RETENTION_SECONDS, RefreshStore
from functions.stores.sessions import DELETING, SessionStore, distill_keys
from schemas.user_data import DeletionRequest

USER_PAGE = 100  # sessions marked per invocation of a user's listing
MAX_LISTINGS = 3  # passes over a user's sessions (a pass that marks nothing ends the listing sooner)
MAX_DEFER_SECONDS = 60

logger = Logger(child=True)


@dataclass
class Purger:
    sessions: SessionStore
    records: RecordStore
    changes: ChangeLog
    embeddings: EmbeddingStore
    index_file: IndexFile
    idempotency: SummaryIdempotency
    distills: DistillIdempotency
    archives: ExportArchives
    jobs: DeletionStore
    queue: DeletionQueue
    refresh: RefreshStore

    def handle(self, request: DeletionRequest) -> str:
        return self.purge_session(request) if request.task == "session" else self.list_user(request)

    # ----- one session -----
    def purge_session(self, request: DeletionRequest) -> str:
        """'purged', 'gone' (nothing left), 'live' (not being deleted: never touched) or 'deferred'."""
        assert request.session_id
        session_id = request.session_id
        item = self.sessions.get(session_id)
        if item is None:
            return "gone"
        if item["status"] != DELETING:
            return "live"  # a late message, e.g. for a session posted again after its deletion
        distilled = distill_keys(item)
        if self.idempotency.in_flight(session_id, item["content_hash"]) or any(
            self.distills.in_flight(key) for key in distilled
        ):
            delay = min(2**request.attempt, MAX_DEFER_SECONDS)
            self.queue.send(request.model_copy(update={"attempt": request.attempt + 1}), delay_seconds=delay)
            logger.info("summary or distillation in flight: purge deferred", session_id=session_id, seconds=delay)
            return "deferred"
        self._purge_records(session_id, set(item.get("systems") or {}))
        self.embeddings.delete(session_id)
        self._unindex(session_id)
        objects = self.sessions.delete_objects(session_id)
        self.idempotency.forget(session_id, item["content_hash"])
        for key in distilled:  # the cloud model's answers kept as distillation records
            self.distills.forget(key)
        self.archives.delete_for_user(item["user_id"])  # an earlier export holds this session too
        now = epoch_seconds()
        waited = self.refresh.drop_summary(session_id, now, now + RETENTION_SECONDS)
        if waited:
            logger.info("refresh requests stop waiting for the deleted session", session_id=session_id, requests=waited)
        self._remove_item(item)
        logger.info("session purged", session_id=session_id, job_id=item.get("deletion_job"), objects=objects)
        return "purged"

    def _purge_records(self, session_id: str, systems: set[str]) -> None:
        """History and feed entries first, the record last: a repeat still finds what is left through it."""
        records = {record["system"]: record for record in self.records.for_summary(session_id)}
        for system in sorted(systems | set(records)):
            history = self.records.history_items(session_id, system, patches=False)
            self.changes.forget(system, [int(entry["seq"]) for entry in history if "seq" in entry])
            self.records.forget_history(session_id, system, [int(entry["version"]) for entry in history])
            if system in records:
                self.records.remove(records[system])
        self.records.delete_documents(session_id)

    def _unindex(self, session_id: str) -> None:
        """Out of the search index, and out of the index's older versions in the (versioned) bucket."""
        index, _ = self.index_file.load()
        if index.position(session_id) is not None:
            self.index_file.update(lambda current: current.without([session_id]))
        self.index_file.drop_old_versions()

    def _remove_item(self, item: dict[str, Any]) -> None:
        """The session's item last, counted as deleted by its job in the same transaction."""
        session_id, job_id = item["session_id"], item.get("deletion_job")
        counted = self.jobs.counted(item["user_id"], job_id, "deleted") if job_id else None
        self.sessions.remove_deleted(session_id, counted)
        if job_id:
            self.jobs.finish_if_complete(item["user_id"], job_id, utc_now())

    # ----- a user's sessions, a page at a time -----
    def list_user(self, request: DeletionRequest) -> str:
        """Mark the next page of the user's sessions DELETING and queue their purges; then the next page."""
        assert request.user_id and request.job_id
        user_id, job_id = request.user_id, request.job_id
        job = self.jobs.get(user_id)
        if not job or job["job_id"] != job_id or job["status"] != "running":
            return "stale"
        items, page = self.sessions.page_by_user(user_id, USER_PAGE, request.page)
        marked, purges = 0, []
        for item in items:
            if item["status"] != DELETING and self._mark(item, job_id):
                marked += 1
                purges.append(item["session_id"])
            elif item["status"] == DELETING and item.get("deletion_job") == job_id:
                purges.append(item["session_id"])  # marked by an earlier try of this page
        self.queue.send_many([DeletionRequest(task="session", session_id=sid, job_id=job_id) for sid in purges])
        found = request.marked + marked
        if page:
            self.queue.send(request.model_copy(update={"page": page, "marked": found}))
            return "listing"
        if found and request.listing < MAX_LISTINGS:  # once more: the index behind the listing can lag
            self.queue.send(DeletionRequest(task="user", user_id=user_id, job_id=job_id, listing=request.listing + 1))
            return "listing"
        self.jobs.listed(user_id, job_id, utc_now())
        self.jobs.finish_if_complete(user_id, job_id, utc_now())
        return "listed"

    def _mark(self, item: dict[str, Any], job_id: str) -> bool:
        """DELETING for this job, counted as found in the same transaction; False if someone marked it first."""
        counted = self.jobs.counted(item["user_id"], job_id, "found")
        return self.sessions.mark_deleting(item["session_id"], utc_now(), job_id, counted)
