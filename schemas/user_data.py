"""The user's own data: deleting a session or every session of a user (a tracked job), and exporting it all.

Deletion is asynchronous and resumable: the API marks sessions DELETING (hidden from every read) and queues a
DeletionRequest per piece of work; the purge removes every trace and is safe to repeat.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from schemas.contracts import Contract, Identifier, NonNegativeInt, Timestamp

DeletionStatus = Literal["running", "done"]


class DeletionRequest(Contract):
    """A message of the deletion queue: purge one session, or list the next page of a user's sessions."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "allOf": [
                {
                    "if": {"properties": {"task": {"const": "session"}}},
                    "then": {"required": ["session_id"], "properties": {"session_id": {"type": "string"}}},
                },
                {
                    "if": {"properties": {"task": {"const": "user"}}},
                    "then": {
                        "required": ["user_id", "job_id"],
                        "properties": {"user_id": {"type": "string"}, "job_id": {"type": "string"}},
                    },
                },
            ]
        },
    )

    task: Literal["session", "user"]
    session_id: Identifier | None = None
    user_id: Identifier | None = None
    job_id: str | None = Field(default=None, max_length=128, description="The user deletion job, if any.")
    page: str | None = Field(default=None, max_length=4096, description="Where the user's listing continues.")
    listing: int = Field(default=1, ge=1, description="Which pass over the user's sessions this is.")
    marked: NonNegativeInt = Field(default=0, description="Sessions this pass has marked so far.")
    attempt: NonNegativeInt = Field(default=0, description="Deferrals so far (work in flight on the session).")

    @model_validator(mode="after")
    def _names_its_target(self) -> DeletionRequest:
        if self.task == "session" and not self.session_id:
            raise ValueError("a session task names session_id")
        if self.task == "user" and not (self.user_id and self.job_id):
            raise ValueError("a user task names user_id and job_id")
        return self


class SessionDeletion(Contract):
    """DELETE SESSION's answer (202): the session is hidden now and removed shortly."""

    session_id: Identifier
    status: Literal["DELETING"]
    status_url: str = Field(description="Answers 404 once everything is removed.")


class DeletionJob(Contract):
    """DELETE USER's answer (202) and GET USER_DELETION: a user's deletion and its progress."""

    user_id: Identifier
    job_id: str
    status: DeletionStatus
    sessions_found: NonNegativeInt = Field(
        description="Sessions marked for deletion so far, counting those of the user's earlier finished jobs."
    )
    sessions_deleted: NonNegativeInt = Field(description="Of those, sessions whose data is gone.")
    requested_at: Timestamp
    finished_at: Timestamp | None = None
    status_url: str


class ExportLink(Contract):
    """GET USER_EXPORT's answer: a JSON Lines archive (gzip) of everything kept for the user."""

    user_id: Identifier
    url: str = Field(description="A presigned GET link to the archive; it stops working at expires_at.")
    expires_at: Timestamp
    key: str = Field(description="The archive's key in the data bucket (removed with the user's data).")
    sessions: NonNegativeInt
    records: NonNegativeInt
    history: NonNegativeInt
    bytes: NonNegativeInt
