"""Users' work before backfills, on the local stack: a refresh asked after a backfill was queued finishes first."""

from __future__ import annotations

import json
import shutil

from edge_helpers import SlowTranslator, edge_busy, edge_worker
from stack_helpers import api_client, make_token, queue_messages, running_stack, session_body, wait_for, wait_for_stack

from schemas.system_definition import default_systems_dir, load_systems

SESSIONS = [f"prio-{index}" for index in range(5)]


def test_a_user_refresh_finishes_before_the_backfill_queued_ahead_of_it(tiny_translator, tmp_path):
    systems_dir = tmp_path / "systems"
    shutil.copytree(default_systems_dir(), systems_dir)
    names = sorted(load_systems(systems_dir).systems)
    slow = SlowTranslator(tiny_translator, delay_s=0.0)
    with running_stack() as stack:
        reader = api_client(stack, make_token(stack, ["read", "refresh"], name="reader"))
        with api_client(stack, make_token(stack, ["ingest"], source="planner", name="ingest")) as client:
            for session_id in SESSIONS:
                body = session_body(session_id, text=f"Call Ana about item {session_id} on Friday")
                assert client.post("/sessions", json=body).status_code == 202

        def records(session_id: str) -> dict[str, int]:
            view = reader.get(f"/summaries/{session_id}").json()
            return {r["system"]: r["version"] for r in view.get("records", [])}

        with edge_worker(stack, slow, tmp_path / "edge", systems_dirs=[systems_dir], batch_size=1) as worker:
            busy = edge_busy(stack, worker)
            wait_for_stack(stack, lambda: all(len(records(s)) == len(names) for s in SESSIONS), busy=busy, interval=1)

            slow.delay_s = 0.02  # from now on a translation takes seconds, as a real model's does
            nudge = json.loads((systems_dir / "nudge.json").read_text())
            nudge["instructions"] += " Prefer one reminder per commitment."
            (systems_dir / "nudge.json").write_text(json.dumps(nudge))  # a new prompt: every summary is backfilled
            wait_for(lambda: queue_messages(stack, "BackfillQueue") > 0, timeout=60)

            asked = reader.post("/refresh", json={"summary_id": SESSIONS[-1], "system": "planner"})
            assert asked.status_code == 202, asked.text
            request_id = asked.json()["request_id"]
            done = wait_for_stack(
                stack, lambda: reader.get(f"/refresh/{request_id}").json()["status"] == "done", busy=busy
            )
            assert done
            assert queue_messages(stack, "BackfillQueue") > 0, "the backfill finished before the user's refresh"
            assert records(SESSIONS[-1])["planner"] >= 1

            wait_for_stack(stack, lambda: queue_messages(stack, "BackfillQueue") == 0, busy=busy, interval=1)
        reader.close()
