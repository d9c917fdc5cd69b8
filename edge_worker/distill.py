"""Distillation on the edge: choose summaries not yet distilled for a system, price the run before it is paid,
ask the cloud model (POST /edge/distill) for each, and keep the schema-valid answers as training data in
$SSP_HOME/training/<system>/distilled.jsonl. A row lives as long as its summary: `forget_deleted` drops the rows of
summaries the cloud no longer has (a deleted session or user)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from edge_worker.ports import SystemLike
from edge_worker.tuning.data import (
    distilled_lock,
    distilled_path,
    distilled_systems,
    drop_distilled,
    read_distilled,
)
from schemas.edge_api import DistillAnswer, DistillRequest, EdgeSummary, PendingPage


class SummaryReader(Protocol):
    """The edge API's summary read (GET /edge/summaries/{id}): ApiRejected 404/410 once a summary is deleted."""

    def summary(self, summary_id: str) -> EdgeSummary: ...


class DistillApi(Protocol):
    """What distillation needs from edge_worker.api_client.EdgeApi."""

    def pending_page(self, next_token: str | None = None, limit: int = 100) -> PendingPage: ...

    def summary(self, summary_id: str) -> EdgeSummary: ...

    def distill(self, request: DistillRequest) -> DistillAnswer: ...


@dataclass
class Estimate:
    """What a run may cost: input tokens counted by the provider, the most it may pay (None: unknown)."""

    summary_ids: list[str]
    model_id: str = ""
    input_tokens: int | None = 0
    max_output_tokens: int = 0
    cost_usd: float | None = 0.0

    def describe(self) -> str:
        tokens = "unknown" if self.input_tokens is None else f"{self.input_tokens:,}"
        cost = "unknown" if self.cost_usd is None else f"at most ${self.cost_usd:.4f}"
        return (
            f"{len(self.summary_ids)} summaries, {tokens} input tokens plus up to {self.max_output_tokens:,} output "
            f"tokens, with {self.model_id or 'the cloud model'}: cost {cost}"
        )


@dataclass
class DistillReport:
    kept: list[str] = field(default_factory=list)
    invalid: dict[str, list[str]] = field(default_factory=dict)  # summary id -> what was wrong
    cost_usd: float | None = 0.0


def distilled_ids(system: SystemLike) -> set[str]:
    """Summaries already distilled for this system's current schema."""
    return {
        row["summary_id"] for row in read_distilled(system.name) if row.get("schema_version") == system.schema_version
    }


def candidates(api: DistillApi, system: SystemLike, count: int) -> list[str]:
    """The first `count` stored summaries (oldest first) not yet distilled for `system`."""
    done, chosen = distilled_ids(system), []
    for summary_id in _summary_ids(api):
        if summary_id not in done:
            chosen.append(summary_id)
            if len(chosen) == count:
                break
    return chosen


def estimate(api: DistillApi, system: SystemLike, summary_ids: list[str]) -> Estimate:
    """Count each request's tokens (no model call, nothing paid) and add up the most the run may cost."""
    total = Estimate(summary_ids)
    for summary_id in summary_ids:
        answer = api.distill(DistillRequest(summary_id=summary_id, system=system.name, estimate=True))
        total.model_id = answer.model_id
        total.max_output_tokens += answer.max_output_tokens
        if total.input_tokens is not None:
            total.input_tokens = None if answer.input_tokens is None else total.input_tokens + answer.input_tokens
        if total.cost_usd is not None:
            total.cost_usd = None if answer.cost_usd is None else total.cost_usd + answer.cost_usd
    return total


def distill(
    api: DistillApi, system: SystemLike, summary_ids: list[str], progress: Callable[[str], None] = lambda _: None
) -> DistillReport:
    """Ask the cloud model for each summary's JSON; keep the ones that validate against `system`'s schema.

    An answer made for another schema version than the local definition's (the published one differs) is
    reported and not kept. Raises what the API client raises (ApiUnavailable, ApiRejected); rows kept before
    that stay kept.
    """
    report = DistillReport()
    path = distilled_path(system.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    for number, summary_id in enumerate(summary_ids, start=1):
        answer = api.distill(DistillRequest(summary_id=summary_id, system=system.name))
        report.cost_usd = (
            None if report.cost_usd is None or answer.cost_usd is None else report.cost_usd + answer.cost_usd
        )
        problems = list(answer.problems)
        if answer.schema_version != system.schema_version:
            problems.append(
                f"answered for schema {answer.schema_version}, the local definition has {system.schema_version}: "
                "publish the system first"
            )
        elif answer.document is not None:
            problems += [p for p in _validation_errors(system, answer.document) if p not in problems]
        if answer.document is None or problems:
            report.invalid[summary_id] = problems or ["no document in the answer"]
            progress(f"{number}/{len(summary_ids)} {summary_id}: not kept: {'; '.join(report.invalid[summary_id])}")
            continue
        row = {
            "summary_id": summary_id,
            "text": api.summary(summary_id).text,
            "document": answer.document,
            "model": answer.model_id,
            "schema_version": answer.schema_version,
        }
        with distilled_lock(system.name), path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
        report.kept.append(summary_id)
        progress(f"{number}/{len(summary_ids)} {summary_id}: kept")
    return report


def forget_deleted(api: SummaryReader, listed: set[str] | None = None) -> dict[str, int]:
    """Drop every system's distilled rows whose summary the cloud answers 404/410 for (deleted, or being
    deleted); system -> rows dropped (systems with none left out).

    `listed`: summary ids a complete listing of stored summaries just returned; those are kept without asking.
    Raises ApiUnavailable before any file is changed when the API cannot be reached (ApiRejected for other refusals
    too: nothing is dropped on a doubt).
    """
    from edge_worker.api_client import ApiRejected

    ids = {system: {row["summary_id"] for row in read_distilled(system)} for system in distilled_systems()}
    gone: set[str] = set()
    for summary_id in sorted(set().union(*ids.values()) - (listed or set())):
        try:
            api.summary(summary_id)
        except ApiRejected as error:
            if error.status not in (404, 410):
                raise
            gone.add(summary_id)
    dropped = {system: drop_distilled(system, gone & summary_ids) for system, summary_ids in ids.items()}
    return {system: count for system, count in dropped.items() if count}


def _validation_errors(system: Any, document: dict[str, Any]) -> list[str]:
    check = getattr(system, "validation_errors", None)
    return list(check(document)) if check else []


def _summary_ids(api: DistillApi) -> Iterator[str]:
    token = None
    while True:
        page = api.pending_page(token)
        yield from (item.summary_id for item in page.items)
        token = page.next
        if not token:
            return
