"""The read side of the API: paginated Queries over summaries, records, history, registry and usage."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key

from functions.common.errors import ClientError
from functions.common.paging import query_page
from functions.common.record_store import RecordStore
from functions.common.registry_store import RegistryStore
from functions.common.session_store import SessionStore
from functions.common.views import plain, session_view

STATUSES = ("RECEIVED", "SUMMARIZED", "FAILED")
REGISTRY_KINDS = (
    "summarizer-model",
    "summarizer-prompt",
    "translator-model",
    "translator-prompt",
    "schema",
    "system",
    "eval-result",
    "embedding-model",
)
MAX_USAGE_DAYS = 92


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ClientError("invalid_date", f"{name} must be a date like 2026-11-25, got {value!r}") from exc


def record_view(item: dict[str, Any], document: Any) -> dict[str, Any]:
    view = {k: plain(v) for k, v in item.items() if k not in ("document", "document_key")}
    view["document"] = document
    return view


class Reads:
    def __init__(self, sessions: SessionStore, records: RecordStore, registry: RegistryStore, usage_table: str) -> None:
        self.sessions, self.records, self.registry = sessions, records, registry
        self.usage = boto3.resource("dynamodb").Table(usage_table)

    def list_summaries(self, params: dict[str, str], limit: int, next_token: str | None) -> dict[str, Any]:
        status, source = params.get("status"), params.get("source")
        start, end = _day(params.get("from"), "from"), _day(params.get("to"), "to")
        if status and status not in STATUSES:
            raise ClientError("invalid_status", f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        if status and source:
            raise ClientError("invalid_filter", "filter by status or by source, not both")
        if status or source:
            index, key = ("by_status", Key("status").eq(status)) if status else ("by_source", Key("source").eq(source))
            if start or end:
                low = (start or date(1970, 1, 1)).isoformat()
                high = ((end or date(9999, 12, 30)) + timedelta(days=1)).isoformat()
                key = key & Key("received_at").between(low, high)
        else:
            day = (start or datetime.now(UTC).date()).isoformat()
            index, key = "by_day", Key("received_day").eq(day)
        items, token = query_page(
            self.sessions.table,
            limit=limit,
            next_token=next_token,
            IndexName=index,
            KeyConditionExpression=key,
            ScanIndexForward=False,
        )
        return {"items": [session_view(item) for item in items], "next": token}

    def summary(self, summary_id: str) -> dict[str, Any]:
        item = self.sessions.get(summary_id)
        if not item:
            raise ClientError("not_found", f"no summary {summary_id}", status=404)
        view = session_view(item)
        view["text"] = self.sessions.read_text(item["summary_key"]) if item.get("summary_key") else None
        view["records"] = [record_view(r, self.records.document(r)) for r in self.records.for_summary(summary_id)]
        return view

    def history(self, summary_id: str, system: str, limit: int, next_token: str | None) -> dict[str, Any]:
        items, token = self.records.history_page(summary_id, system, limit, next_token)
        entries = [
            {**plain({k: v for k, v in item.items() if k != "patch"}), "patch": json.loads(item["patch"])}
            for item in items
        ]
        return {"items": entries, "next": token}

    def systems(self) -> dict[str, Any]:
        return {"items": plain(self.registry.active_systems())}

    def system_records(self, system: str, limit: int, next_token: str | None) -> dict[str, Any]:
        items, token = self.records.page_for_system(system, limit, next_token)
        return {"items": [record_view(r, self.records.document(r)) for r in items], "next": token}

    def registry_entries(self, kind: str | None, limit: int, next_token: str | None) -> dict[str, Any]:
        if kind not in REGISTRY_KINDS:
            raise ClientError("invalid_kind", f"kind must be one of {', '.join(REGISTRY_KINDS)}, got {kind!r}")
        items, token = query_page(
            self.registry.table,
            limit=limit,
            next_token=next_token,
            IndexName="by_kind",
            KeyConditionExpression=Key("kind").eq(kind),
            ScanIndexForward=False,
        )
        return {"items": [plain(item) for item in items], "next": token}

    def usage_totals(self, params: dict[str, str]) -> dict[str, Any]:
        today = datetime.now(UTC).date()
        end = _day(params.get("to"), "to") or today
        start = _day(params.get("from"), "from") or end - timedelta(days=29)
        if start > end or (end - start).days >= MAX_USAGE_DAYS:
            raise ClientError("invalid_range", f"from..to must be a range of 1 to {MAX_USAGE_DAYS} days")
        days, models = [], {}
        for offset in range((end - start).days + 1):
            day = (start + timedelta(days=offset)).isoformat()
            rows = [plain(r) for r in self.usage.query(KeyConditionExpression=Key("day").eq(day)).get("Items", [])]
            days.append(
                {
                    "day": day,
                    "calls": sum(r.get("calls", 0) for r in rows),
                    "cost_usd": round(sum(r.get("cost_usd", 0) for r in rows), 6),
                    "input_tokens": sum(r.get("input_tokens", 0) for r in rows),
                    "output_tokens": sum(r.get("output_tokens", 0) for r in rows),
                }
            )
            for row in rows:
                total = models.setdefault(
                    row["model_id"],
                    {"model_id": row["model_id"], "calls": 0, "cost_usd": 0.0, "input_tokens": 0, "output_tokens": 0},
                )
                for field in ("calls", "cost_usd", "input_tokens", "output_tokens"):
                    total[field] += row.get(field, 0)
        return {"from": start.isoformat(), "to": end.isoformat(), "days": days, "models": list(models.values())}
