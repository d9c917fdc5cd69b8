"""How stored items look to API clients."""

from __future__ import annotations

from typing import Any

from functions.stores.dynamo import plain
from schemas import routes
from schemas.changes import RecordChange
from schemas.contracts import SummaryRecord, lineage_of, session_day

# Stored for the functions' own bookkeeping; every other SummaryRecord field is shown.
HIDDEN_SESSION_FIELDS = frozenset(
    {
        "raw_key",
        "received_day",
        "summary_key",
        "batch_claim",
        "batch_claim_expires",
        "batch_state",
        "batch_submitted_at",
        "deletion_job",
        "distill_keys",
        "edge_job",  # shown as the session's `pipeline` state
    }
)
SESSION_FIELDS = tuple(name for name in SummaryRecord.model_fields if name not in HIDDEN_SESSION_FIELDS)


def session_view(item: dict[str, Any], pipeline: dict[str, Any] | None = None) -> dict[str, Any]:
    """A session as clients see it; `pipeline`: its state (functions.api.pipeline), when the caller worked it out."""
    view = {key: plain(item[key]) for key in SESSION_FIELDS if key in item}
    if pipeline is not None:
        view["pipeline"] = pipeline
    view["session_day"] = session_day(item["started_at"])  # what date filters compare
    session_id = item["session_id"]
    view["links"] = {
        "self": routes.SESSION.format(session_id=session_id),
        "summary": routes.SUMMARY.format(summary_id=session_id),
        "conversation": routes.SUMMARY_CONVERSATION.format(summary_id=session_id),
        "retry": routes.SESSION_RETRY.format(session_id=session_id),
    }
    return view


def record_view(item: dict[str, Any], document: Any, proposal_document: Any = None) -> dict[str, Any]:
    """A record with its document; a proposal waiting beside a user's edit comes with its own document."""
    view = {k: plain(v) for k, v in item.items() if k not in ("document", "document_key", "proposal")}
    view["document"] = document
    if "proposal" in item:
        proposal = {k: plain(v) for k, v in item["proposal"].items() if k not in ("document", "document_key")}
        view["proposal"] = {**proposal, "document": proposal_document}
    return view


def change_view(entry: dict[str, Any], document: Any) -> RecordChange:
    """A change-log entry as a RecordChange, its document read (from S3 when large) by the caller."""
    lineage = lineage_of(entry) if "schema_version" in entry else None
    return RecordChange(
        seq=int(entry["seq"]),
        system=entry["system"],
        summary_id=entry["summary_id"],
        change=entry["change"],
        version=int(entry["version"]),
        changed_at=entry["changed_at"],
        author=entry.get("author"),
        lineage=lineage,
        document_hash=entry.get("document_hash"),
        document=document,
    )
