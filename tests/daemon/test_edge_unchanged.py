"""A translation that changes nothing is remembered: after a system's prompt changes, each record is translated
again once, keeps its version, and is not translated again on every pass."""

from __future__ import annotations

import json

from edge_helpers import edge_busy, edge_worker
from stack_helpers import api_client, make_token, running_stack, session_body, wait_for_stack

ACK = {  # one document only: every prompt makes the same one
    "name": "ack",
    "description": "Acknowledges each session.",
    "instructions": "Acknowledge the session.",
    "schema": {
        "type": "object",
        "properties": {"ack": {"const": True}},
        "required": ["ack"],
        "additionalProperties": False,
    },
    "examples": [{"summary": "The user said hello.", "expected": {"ack": True}}],
    "max_output_tokens": 16,
}


def test_a_changed_prompt_that_gives_the_same_documents_is_translated_once_then_current(tiny_translator, tmp_path):
    systems_dir = tmp_path / "systems"
    systems_dir.mkdir()
    (systems_dir / "ack.json").write_text(json.dumps(ACK))
    ids = ["same-0", "same-1"]
    with running_stack() as stack, edge_worker(stack, tiny_translator, tmp_path / "edge", [systems_dir]) as worker:
        reader = api_client(stack, make_token(stack, ["read"], name="reader"))
        with api_client(stack, make_token(stack, ["ingest"], source="planner", name="ingest")) as client:
            for session_id in ids:
                assert client.post("/sessions", json=session_body(session_id)).status_code == 202

        def records() -> list[dict]:
            return [record for i in ids for record in reader.get(f"/summaries/{i}").json().get("records", [])]

        first = wait_for_stack(stack, lambda: len(records()) == 2 and records(), busy=edge_busy(stack, worker))
        translated = worker.status.translated
        (systems_dir / "ack.json").write_text(json.dumps({**ACK, "instructions": "Acknowledge the session, always."}))
        wait_for_stack(stack, lambda: worker.status.translated >= translated + 2, busy=edge_busy(stack, worker))
        wait_for_stack(stack, lambda: not edge_busy(stack, worker)(), busy=edge_busy(stack, worker))

        assert records() == first  # same documents, same versions, same lineage on each version
        assert worker.status.unchanged >= 2
        assert worker.translations.reconcile() == 0  # nothing left outdated: no translation on every pass
        for session_id in ids:
            history = reader.get(f"/summaries/{session_id}/systems/ack/history").json()["items"]
            assert [entry["version"] for entry in history] == [1]
        reader.close()
