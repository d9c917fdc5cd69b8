"""How stored items look to API clients."""

from __future__ import annotations

from typing import Any

from functions.stores.dynamo import plain
from schemas import routes
from schemas.contracts import SummaryRecord, session_day

# Stored for the functions' own bookkeeping; every other SummaryRecord field is shown.
HIDDEN_SESSION_FIELDS = frozenset(
    {
        "raw_key",
        "received_day",
        "summary_key",
        "summarized_at",
        "batch_claim",
        "batch_claim_expires",
        "batch_state",
        "batch_submitted_at",
    }
)
SESSION_FIELDS = tuple(name for name in SummaryRecord.model_fields if name not in HIDDEN_SESSION_FIELDS)


def session_view(item: dict[str, Any]) -> dict[str, Any]:
    view = {key: plain(item[key]) for key in SESSION_FIELDS if key in item}
    view["session_day"] = session_day(item["started_at"])  # what date filters compare
    session_id = item["session_id"]
    view["links"] = {
        "self": routes.SESSION.format(session_id=session_id),
        "summary": routes.SUMMARY.format(summary_id=session_id),
        "retry": routes.SESSION_RETRY.format(session_id=session_id),
    }
    return view


def record_view(item: dict[str, Any], document: Any) -> dict[str, Any]:
    view = {k: plain(v) for k, v in item.items() if k not in ("document", "document_key")}
    view["document"] = document
    return view
