"""How stored items look to API clients."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

SESSION_FIELDS = (
    "session_id",
    "source",
    "user_id",
    "status",
    "received_at",
    "updated_at",
    "started_at",
    "attempts",
    "error",
    "content_hash",
    "summarizer_model_version",
    "summarizer_prompt_version",
    "usage",
    "cost_usd",
    "latency_ms",
    "systems",
    "turn_count",
    "batch_id",
    "failed_batch_id",
    "embedding_version",
)


def plain(value: Any) -> Any:
    """DynamoDB Decimals back to ints and floats."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def session_view(item: dict[str, Any]) -> dict[str, Any]:
    view = {key: plain(item[key]) for key in SESSION_FIELDS if key in item}
    session_id = item["session_id"]
    view["links"] = {
        "self": f"/sessions/{session_id}",
        "summary": f"/summaries/{session_id}",
        "retry": f"/sessions/{session_id}/retry",
    }
    return view
