"""A summary deleted while the edge translates it: the edge's uploads are refused, it drops the work (no retries,
nothing in its dead-letter queue) and the deleted session stays gone."""

from __future__ import annotations

import shutil

from data_traces import none_left, traces
from edge_helpers import SlowTranslator, edge_busy, edge_worker
from stack_helpers import api_client, make_token, queue_messages, running_stack, session_body, wait_for_stack

from schemas.contracts import Session
from schemas.system_definition import default_systems_dir


def test_a_translation_in_flight_for_a_deleted_summary_is_dropped(tiny_translator, tmp_path):
    slow = SlowTranslator(tiny_translator, delay_s=0.05)
    body = session_body("edge-deleted", text="Plan the dentist on Friday")
    systems = tmp_path / "systems"
    systems.mkdir()
    shutil.copy(default_systems_dir() / "planner.json", systems)
    with running_stack() as stack:
        owner = api_client(stack, make_token(stack, ["ingest", "read", "delete"], source="planner", name="owner"))
        with edge_worker(stack, slow, tmp_path / "edge", systems_dirs=[systems]) as worker:
            assert owner.post("/sessions", json=body).status_code == 202
            assert slow.started.wait(120), "the translation never started"
            assert owner.delete("/sessions/edge-deleted").status_code == 202
            busy = edge_busy(stack, worker)
            wait_for_stack(stack, lambda: owner.get("/sessions/edge-deleted").status_code == 404, busy=busy)
            wait_for_stack(stack, lambda: queue_messages(stack, "EdgeQueue") == 0, busy=busy)  # dropped, not retried
            assert worker.status.stored == 0
        assert queue_messages(stack, "EdgeDLQ") == 0
        assert none_left(traces(stack, {"edge-deleted": Session.model_validate(body).content_hash()}))
        owner.close()
