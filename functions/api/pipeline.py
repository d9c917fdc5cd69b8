"""Where a session is in the pipeline, as one state the dashboard shows: received, summarizing, queued (with its
position and an estimate), translating (systems i/n), stored or failed.

Worked out from the session's item, the published systems and the edges' last reports (functions.api.edge_status);
nothing here writes.
"""

from __future__ import annotations

import time
from typing import Any

from functions.stores.dynamo import plain
from schemas.contracts import SessionStatus
from schemas.edge_api import is_offline_demo_model


def edge_view(state: dict[str, Any], online_seconds: int, now: float | None = None) -> dict[str, Any]:
    """An edge's last report as the API shows it: `online` when it reported within online_seconds,
    `seen_seconds_ago`, and `offline_demo_model` when it runs the bundled demo model."""
    state = plain(state)
    ago = max(0, int((now or time.time()) - int(state.get("seen_at", 0))))
    return {
        **state,
        "online": ago <= online_seconds,
        "seen_seconds_ago": ago,
        "offline_demo_model": is_offline_demo_model(state.get("model_id")),
    }


def _queued(missing: int, edges: list[dict[str, Any]]) -> dict[str, Any]:
    """Queued for the edge: SQS gives no rank, so `position` counts the requests waiting in the edge queue at the
    edge's last report (those ahead, at most); the estimate multiplies them (and what is left of the job in flight) by
    the edge's measured seconds per summary."""
    online = [edge for edge in edges if edge["online"]]
    if not online:
        return {"state": "queued", "missing": missing, "edge": "offline", "position": None, "estimate_seconds": None}
    edge = max(online, key=lambda e: e.get("seen_at", 0))
    waiting = (edge.get("queue") or {}).get("edge")
    position = max(1, int(waiting)) if waiting is not None else None
    pace = edge.get("seconds_per_summary")
    estimate = None
    if pace is not None:
        job = edge.get("job") or {}
        summaries = job.get("summaries") or []
        left = sum(1 - (s["done"] / s["total"] if s["total"] else 1) for s in summaries)
        estimate = round(float(pace) * ((position or 1) + left))
    return {
        "state": "queued",
        "missing": missing,
        "edge": edge["name"],
        "position": position,
        "estimate_seconds": estimate,
    }


def pipeline_state(item: dict[str, Any], active_systems: list[str], edges: list[dict[str, Any]]) -> dict[str, Any]:
    """The session's pipeline state. `edges`: edge_view()s; `active_systems`: the published system names.

    {"state": "received"} | {"state": "summarizing", "attempt": n} | {"state": "failed", "error": ...} |
    {"state": "queued", "missing", "edge", "position", "estimate_seconds"} |
    {"state": "translating", "edge", "done", "total", "started_at"} | {"state": "stored", "systems": n}
    """
    status = item.get("status")
    if status == SessionStatus.FAILED.value:
        return {"state": "failed", "error": item.get("error")}
    if status != SessionStatus.SUMMARIZED.value:
        attempts = int(item.get("attempts") or 0)
        if attempts or item.get("batch_id") or item.get("batch_claim"):
            return {"state": "summarizing", "attempt": max(attempts, 1)}
        return {"state": "received"}
    job = item.get("edge_job")
    online = {edge["name"] for edge in edges if edge["online"]}
    if job and job.get("edge") in online:  # a mark left by an edge that went away is not believed
        return {
            "state": "translating",
            "edge": job["edge"],
            "done": int(job["done"]),
            "total": int(job["total"]),
            "started_at": job.get("started_at"),
        }
    stored = set(item.get("systems") or {})
    missing = [name for name in active_systems if name not in stored]
    if missing:
        return _queued(len(missing), edges)
    return {"state": "stored", "systems": len(stored)}
