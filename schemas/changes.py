"""The change feed: every create, update and delete of a system record, numbered per system.

Subsystems read it two ways: as Amazon EventBridge events on the stack's bus (source EVENT_SOURCE, one detail-type
per change, the detail a RecordChange), or by polling GET SYSTEM_RECORDS?since=CURSOR (a ChangePage). `seq` counts
1, 2, 3, ... per system: a poller's cursor is the last seq it read, and an event subscriber can order and
de-duplicate events by it (EventBridge delivers at least once, in no guaranteed order).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from schemas.contracts import Contract, Identifier, Lineage, Sha256Hex, SystemName, Timestamp

EVENT_SOURCE = "session-summary-pipeline"
DETAIL_TYPES = {
    "created": "Record Created",
    "updated": "Record Updated",
    "deleted": "Record Deleted",
}

Author = Literal["edge", "user"]
ChangeKind = Literal["created", "updated", "deleted"]


class S3Location(Contract):
    bucket: str = Field(min_length=1)
    key: str = Field(min_length=1)


class RecordChange(Contract):
    """One change of one record. A deleted record has no document, author or lineage."""

    seq: int = Field(ge=1, description="Position in the system's change feed: 1, 2, 3, ... with no gaps.")
    system: SystemName
    summary_id: Identifier
    change: ChangeKind
    version: int = Field(ge=1, description="The record version this change made (deleted: the last one).")
    changed_at: Timestamp
    author: Author | None = Field(default=None, description="edge: a translation; user: an edit in the dashboard.")
    lineage: Lineage | None = None
    document_hash: Sha256Hex | None = None
    document: dict[str, Any] | None = Field(default=None, description="The record's JSON (inline when small).")
    document_location: S3Location | None = Field(
        default=None, description="Where a large document is kept in the data bucket (events only)."
    )


class ChangePage(Contract):
    """GET SYSTEM_RECORDS?since=CURSOR: the next changes in order; pass `next` as `since` to continue."""

    items: list[RecordChange]
    next: str = Field(description="The cursor after this page (the last seq read, or the one sent).")
    more: bool = Field(description="True when more changes may follow right away.")
