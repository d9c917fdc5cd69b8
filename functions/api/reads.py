"""The read side of the API: paginated Queries over summaries, records, history, registry and usage."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from functions.api.edge_status import EdgeStatus
from functions.errors import ClientError, not_found, unknown_system
from functions.http.validation import shown
from functions.http.views import change_view, record_view, session_view
from functions.stores.changes import ChangeLog
from functions.stores.dynamo import plain
from functions.stores.records import RecordStore
from functions.stores.registry import REGISTRY_KINDS, RegistryStore
from functions.stores.sessions import DELETING, SessionFilters, SessionStore
from functions.stores.usage import UsageStore
from schemas.changes import ChangePage
from schemas.contracts import SessionStatus
from schemas.edge_api import is_offline_demo_model
from schemas.patterns import ID_PATTERN, SOURCE_PATTERN

STATUSES = tuple(status.value for status in SessionStatus if status is not SessionStatus.DELETING)
MAX_CURSOR = 2**53
MAX_USAGE_DAYS = 92
USAGE_FIELDS = ("calls", "unpriced_calls", "cost_usd", "input_tokens", "output_tokens")


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ClientError("invalid_date", f"{name} must be a date like 2026-11-25, got {shown(value)}") from exc


def _known_cost(total: dict[str, Any]) -> float | None:
    """The cost of the priced calls; None (unknown) when there were calls and none of them had a price."""
    if total["calls"] and total["calls"] == total["unpriced_calls"]:
        return None
    return round(total["cost_usd"], 6)


def _today() -> date:
    return datetime.now(UTC).date()


class Reads:
    def __init__(
        self,
        sessions: SessionStore,
        records: RecordStore,
        registry: RegistryStore,
        usage: UsageStore,
        changes: ChangeLog,
        edges: EdgeStatus,
    ):
        self.sessions, self.records, self.registry, self.usage = sessions, records, registry, usage
        self.changes, self.edge_status = changes, edges

    def list_summaries(self, params: dict[str, str], limit: int, next_token: str | None) -> dict[str, Any]:
        """Sessions newest first, filtered by any of status, source, user and the sessions' own dates from..to
        (schemas.contracts.session_day; either bound may be left open). 400 naming a malformed filter."""
        status, source, user = params.get("status"), params.get("source"), params.get("user")
        start, end = _day(params.get("from"), "from"), _day(params.get("to"), "to")
        if status and status not in STATUSES:
            raise ClientError("invalid_status", f"status must be one of {', '.join(STATUSES)}, got {shown(status)}")
        for name, value, pattern in (("source", source, SOURCE_PATTERN), ("user", user, ID_PATTERN)):
            if value and not re.fullmatch(pattern, value):
                raise ClientError("invalid_filter", f"{name} must match {pattern}, got {shown(value)}")
        if start and end and start > end:
            raise ClientError("invalid_range", f"from ({start}) is after to ({end})")
        filters = SessionFilters(
            status=status or None,
            source=source or None,
            user_id=user or None,
            day_from=start.isoformat() if start else None,
            day_to=end.isoformat() if end else None,
        )
        items, token = self.sessions.page(filters, limit, next_token)
        states = self.edge_status.pipeline(items)
        return {"items": [session_view(item, state) for item, state in zip(items, states, strict=True)], "next": token}

    def _visible(self, summary_id: str) -> dict[str, Any]:
        """The session's item unless it is missing or being deleted (a 404 either way)."""
        item = self.sessions.get(summary_id)
        if not item or item.get("status") == DELETING:
            raise not_found(f"no summary {summary_id}")
        return item

    def _record_view(self, item: dict[str, Any], demo: dict[str, bool] | None = None) -> dict[str, Any]:
        """`demo`: translator model versions already looked up (whether each is the offline demo model)."""
        proposal = item.get("proposal")
        view = record_view(item, self.records.document(item), proposal and self.records.proposal_document(proposal))
        if demo is not None:
            view["offline_demo_model"] = self._demo_model(item.get("translator_model_version"), demo)
        return view

    def _demo_model(self, version: str | None, seen: dict[str, bool]) -> bool:
        """Whether the translator-model registry entry `version` names the bundled offline demo model."""
        if not version:
            return False
        if version not in seen:
            entry = self.registry.entry(version, "translator-model") or {}
            seen[version] = is_offline_demo_model((entry.get("content") or {}).get("model_id"))
        return seen[version]

    def summary(self, summary_id: str) -> dict[str, Any]:
        """The session's view with its pipeline state, its summary text (once made) and every system record (each
        with `offline_demo_model`)."""
        item = self._visible(summary_id)
        [state] = self.edge_status.pipeline([item])
        view = session_view(item, state)
        view["text"] = self.sessions.summary_text(item["summary_key"]) if item.get("summary_key") else None
        demo: dict[str, bool] = {}
        view["records"] = [self._record_view(r, demo) for r in self.records.for_summary(summary_id)]
        return view

    def conversation(self, summary_id: str) -> Any:
        """The session as it was received (schemas.contracts.Session, every field kept as sent)."""
        item = self._visible(summary_id)
        return self.sessions.raw_json(item["raw_key"])

    def registry_entry(self, version_id: str) -> dict[str, Any]:
        """One registry entry by its version id ("<kind>:<digest>"); 404 when there is none of a listed kind."""
        entry = self.registry.get(version_id)
        if not entry or entry.get("kind") not in REGISTRY_KINDS:
            raise not_found(f"no registry entry {version_id}")
        return entry

    def edges(self) -> dict[str, Any]:
        """Every edge worker that reported: online or when last seen, its model, queue depths and job in flight."""
        return {"items": self.edge_status.edges()}

    def history(self, summary_id: str, system: str, limit: int, next_token: str | None) -> dict[str, Any]:
        """A record's versions, newest first. 404 for an unknown summary or an unpublished system."""
        self._visible(summary_id)
        self._published(system)
        items, token = self.records.history_page(summary_id, system, limit, next_token)
        entries = [
            {**plain({k: v for k, v in item.items() if k != "patch"}), "patch": json.loads(item["patch"])}
            for item in items
        ]
        return {"items": entries, "next": token}

    def systems(self) -> dict[str, Any]:
        return {"items": plain(self.registry.active_systems())}

    def system_records(self, system: str, limit: int, next_token: str | None) -> dict[str, Any]:
        """A system's current records, newest first (records of sessions being deleted are left out); 404 for a
        system never published."""
        self._published(system)
        items, token = self.records.page_for_system(system, limit, next_token)
        live = self._live({item["summary_id"] for item in items})
        return {"items": [self._record_view(r) for r in items if r["summary_id"] in live], "next": token}

    def system_changes(self, system: str, since: str, limit: int) -> ChangePage:
        """The system's changes after the cursor `since`, in order (GET SYSTEM_RECORDS?since=...); 400 for a
        malformed cursor or one past the last change, 404 for a system never published."""
        if not (since.isascii() and since.isdigit() and int(since) < MAX_CURSOR):
            raise ClientError(
                "invalid_cursor", f"since must be a change number from a previous page, got {shown(since)}"
            )
        self._published(system)
        entries, more = self.changes.page(system, int(since), limit)
        if not entries and int(since) > (last := self.changes.last_seq(system)):
            raise ClientError(
                "invalid_cursor", f"since {since} is past {system}'s last change, {last}: a cursor from another feed?"
            )
        live = self._live({e["summary_id"] for e in entries if e["change"] != "deleted"})
        items = [
            change_view(entry, self.records.document(entry) if "document" in entry or "document_key" in entry else None)
            for entry in entries
            if entry["change"] == "deleted" or entry["summary_id"] in live
        ]
        cursor = str(int(entries[-1]["seq"])) if entries else str(int(since))
        return ChangePage(items=items, next=cursor, more=more)

    def _published(self, system: str) -> None:
        if not self.registry.active_system(system):
            raise unknown_system(system)

    def _live(self, summary_ids: set[str]) -> set[str]:
        """Those of the ids whose sessions exist and are not being deleted."""
        return {sid for sid, status in self.sessions.statuses(summary_ids).items() if status != DELETING}

    def registry_entries(self, kind: str | None, limit: int, next_token: str | None) -> dict[str, Any]:
        if kind not in REGISTRY_KINDS:
            given = "none was given" if kind is None else f"got {shown(kind)}"
            raise ClientError(
                "invalid_kind", f"the query parameter kind must be one of {', '.join(REGISTRY_KINDS)}; {given}"
            )
        items, token = self.registry.page(kind, limit, next_token)
        return {"items": [plain(item) for item in items], "next": token}

    def usage_totals(self, params: dict[str, str]) -> dict[str, Any]:
        """Calls, tokens and cost per day and per model over from..to (default: the last 30 days).

        unpriced_calls: calls of a model without a price; their cost is unknown, so cost_usd is the known part
        (null when no call of the day or model had a price).
        """
        end = _day(params.get("to"), "to") or _today()
        start = _day(params.get("from"), "from") or date.fromordinal(max(1, end.toordinal() - 29))
        if start > end or (end - start).days >= MAX_USAGE_DAYS:
            raise ClientError("invalid_range", f"from..to must be a range of 1 to {MAX_USAGE_DAYS} days")
        days: list[dict[str, Any]] = []
        models: dict[str, dict[str, Any]] = {}
        for offset in range((end - start).days + 1):
            day = (start + timedelta(days=offset)).isoformat()
            rows = self.usage.day(day)
            total = {field: sum(row.get(field, 0) for row in rows) for field in USAGE_FIELDS}
            days.append({"day": day, **total, "cost_usd": _known_cost(total)})
            for row in rows:
                model = models.setdefault(
                    row["model_id"], {"model_id": row["model_id"], **dict.fromkeys(USAGE_FIELDS, 0)}
                )
                for field in USAGE_FIELDS:
                    model[field] += row.get(field, 0)
        for model in models.values():
            model["cost_usd"] = _known_cost(model)
        return {"from": start.isoformat(), "to": end.isoformat(), "days": days, "models": list(models.values())}
