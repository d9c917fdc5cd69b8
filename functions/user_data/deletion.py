"""Asking for deletion: a session or every session of a user is hidden at once and purged by the deletion queue.

Nothing here removes data: the purge (functions.purge) does, and it is safe to repeat, so asking again after a
fault resumes the work instead of starting over.
"""

from __future__ import annotations

import uuid
from typing import Any

from aws_lambda_powertools import Logger

from functions.clock import utc_now
from functions.errors import not_found
from functions.http.auth import Principal
from functions.queues import DeletionQueue
from functions.stores.deletions import DeletionStore
from functions.stores.sessions import DELETING, SessionStore
from schemas import routes
from schemas.user_data import DeletionJob, DeletionRequest, SessionDeletion

logger = Logger(child=True)


def job_view(item: dict[str, Any]) -> DeletionJob:
    return DeletionJob(
        user_id=item["user_id"],
        job_id=item["job_id"],
        status=item["status"],
        sessions_found=int(item.get("found", 0)),
        sessions_deleted=int(item.get("deleted", 0)),
        requested_at=item["requested_at"],
        finished_at=item.get("finished_at"),
        status_url=routes.USER_DELETION.format(user_id=item["user_id"]),
    )


class Deletions:
    def __init__(self, sessions: SessionStore, jobs: DeletionStore, queue: DeletionQueue) -> None:
        self.sessions, self.jobs, self.queue = sessions, jobs, queue

    def delete_session(self, session_id: str, caller: Principal) -> SessionDeletion:
        """Hide the session now and queue its purge; asking again for one being deleted queues it again.

        Raises 404 for an unknown session.
        """
        item = self.sessions.get(session_id)
        if not item:
            raise not_found(f"no session {session_id}")
        marked = item["status"] == DELETING or self.sessions.mark_deleting(session_id, utc_now())
        if not marked and not self.sessions.get(session_id):
            raise not_found(f"no session {session_id}")
        self.queue.send(DeletionRequest(task="session", session_id=session_id, job_id=item.get("deletion_job")))
        logger.info("session deletion requested", session_id=session_id, by=caller.name)
        return SessionDeletion(
            session_id=session_id, status="DELETING", status_url=routes.SESSION.format(session_id=session_id)
        )

    def delete_user(self, user_id: str, caller: Principal) -> tuple[bool, DeletionJob]:
        """(started, job): start deleting every session of the user, or resume the job already running."""
        started = self.jobs.start(user_id, f"del-{uuid.uuid4().hex[:16]}", caller.name, utc_now())
        job = self.jobs.get(user_id)
        assert job is not None
        self.queue.send(DeletionRequest(task="user", user_id=user_id, job_id=job["job_id"]))
        logger.info("user deletion requested", user_id=user_id, job_id=job["job_id"], resumed=not started)
        return started, job_view(job)

    def status(self, user_id: str) -> DeletionJob:
        job = self.jobs.get(user_id)
        if not job:
            raise not_found(f"no deletion was asked for user {user_id}")
        return job_view(job)
