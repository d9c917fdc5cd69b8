"""What each edge worker reports in its heartbeat (model, queue depths, the job in flight), kept as one registry
pointer per edge, and marked on the sessions of its job so the dashboard's live updates carry the progress."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from functions.api.pipeline import edge_view, pipeline_state
from functions.clock import epoch_seconds, utc_now
from functions.stores.registry import RegistryStore
from functions.stores.sessions import SessionStore
from schemas.edge_api import Heartbeat

logger = Logger(child=True)


def _marks(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """summary_id -> the edge_job mark a report's job puts on that session."""
    job = state.get("job") or {}
    return {
        s["summary_id"]: {
            "edge": state["name"],
            "done": int(s["done"]),
            "total": int(s["total"]),
            "started_at": job["started_at"],
        }
        for s in job.get("summaries") or []
    }


class EdgeStatus:
    def __init__(self, sessions: SessionStore, registry: RegistryStore, online_seconds: int) -> None:
        self.sessions, self.registry, self.online_seconds = sessions, registry, online_seconds

    def report(self, name: str, beat: Heartbeat) -> dict[str, Any]:
        """Keep the edge `name`'s report; mark the sessions its job holds, unmark those it no longer holds (a mark
        changes only when its progress does)."""
        previous = self.registry.edge_state(name) or {}
        state = {
            "name": name,
            "seen_at": epoch_seconds(),
            "reported_at": utc_now(),
            **beat.model_dump(mode="json", exclude_none=True),
        }
        if "model_id" not in state and beat.embedding_version:  # an edge that reports its embedding model only
            entry = self.registry.get(beat.embedding_version) or {}
            model_id = (entry.get("content") or {}).get("model_id")
            if model_id:
                state["model_id"] = model_id
        self.registry.set_edge_state(state)
        before, after = _marks(previous), _marks(state)
        for summary_id in before.keys() - after.keys():
            self.sessions.mark_edge_job(summary_id, None)
        for summary_id, mark in after.items():
            if before.get(summary_id) != mark:
                self.sessions.mark_edge_job(summary_id, mark)
        if before.keys() != after.keys():
            logger.info("edge job changed", edge=name, state=state.get("state"), summaries=sorted(after))
        return state

    def edges(self) -> list[dict[str, Any]]:
        """Every edge that reported, with `online`, `seen_seconds_ago` and `offline_demo_model`."""
        return [edge_view(state, self.online_seconds) for state in self.registry.edge_states()]

    def pipeline(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each session item's pipeline state (functions.api.pipeline), reading systems and edges once."""
        if not items:
            return []
        active = [system["name"] for system in self.registry.active_systems()]
        edges = self.edges()
        return [pipeline_state(item, active, edges) for item in items]
