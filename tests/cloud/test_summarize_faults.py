"""A session whose every LLM call fails ends FAILED, visible, in the DLQ, and a retry summarizes it once more."""

from __future__ import annotations

import json

from stack_helpers import api_client, make_token, queue_messages, running_stack, session_body, wait_for

from local_stack.messages_server import ScriptedBackend, fail, truncated

MARKER = "the-cursed-session"


def test_failing_session_is_failed_visible_dead_lettered_and_retryable():
    backend = ScriptedBackend()
    backend.always(fail(500, "upstream exploded"), when=MARKER)
    with running_stack(backend) as stack:
        token = make_token(stack, ["ingest", "read"], source="planner")
        with api_client(stack, token) as client:
            assert client.post("/sessions", json=session_body("fine-1")).status_code == 202
            assert client.post("/sessions", json=session_body("cursed-1", text=f"Text of {MARKER}")).status_code == 202

            failed = wait_for(
                lambda: (r := client.get("/sessions/cursed-1").json())["status"] == "FAILED" and r, timeout=60
            )
            assert "500" in failed["error"] and "upstream exploded" in failed["error"]
            assert failed["attempts"] == 3
            assert backend.calls_matching(MARKER) == 3  # one call per delivery (the SDK's retries are off here)
            wait_for(lambda: queue_messages(stack, "SummarizeDLQ") == 1, timeout=30)
            dead = stack.client("sqs").receive_message(QueueUrl=stack.resolved("SummarizeDLQ"))["Messages"][0]
            assert json.loads(dead["Body"])["session_id"] == "cursed-1"
            assert client.get("/sessions/fine-1").json()["status"] == "SUMMARIZED"

            assert client.post("/sessions/fine-1/retry").status_code == 409  # only FAILED sessions retry
            backend.reset()
            calls_before = backend.calls
            assert client.post("/sessions/cursed-1/retry").status_code == 202
            done = wait_for(
                lambda: (r := client.get("/sessions/cursed-1").json())["status"] == "SUMMARIZED" and r, timeout=60
            )
            assert "error" not in done
            assert backend.calls == calls_before + 1


def test_a_truncated_summary_is_never_stored_as_complete():
    backend = ScriptedBackend()
    backend.script([truncated("Overview\nThe user planned")], when="cut-once")
    backend.script([truncated("Overview\nThe user"), truncated("Overview\nThe user")], when="cut-twice")
    with running_stack(backend) as stack:
        token = make_token(stack, ["ingest", "read"], source="planner")
        with api_client(stack, token) as client:
            for session_id in ("cut-once", "cut-twice"):
                assert (
                    client.post("/sessions", json=session_body(session_id, text=f"Text {session_id}")).status_code
                    == 202
                )

            def settled(session_id: str, status: str):
                return (view := client.get(f"/sessions/{session_id}").json())["status"] == status and view

            once = wait_for(lambda: settled("cut-once", "SUMMARIZED"), timeout=60)
            assert once["stop_reason"] == "end_turn" and backend.calls_matching("cut-once") == 2
            assert client.get("/summaries/cut-once").json()["text"].startswith("Scripted summary")

            failed = wait_for(lambda: settled("cut-twice", "FAILED"), timeout=60)
            assert "stop_reason=max_tokens" in failed["error"] and failed["stop_reason"] == "max_tokens"
            assert client.get("/summaries/cut-twice").json()["text"] is None  # no partial summary kept
            assert backend.calls_matching("cut-twice") == 2  # cut off is final: not delivered again

            assert client.post("/sessions/cut-twice/retry").status_code == 202
            done = wait_for(lambda: settled("cut-twice", "SUMMARIZED"), timeout=60)
            assert done["stop_reason"] == "end_turn" and "error" not in done
