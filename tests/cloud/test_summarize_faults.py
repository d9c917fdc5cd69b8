"""A session whose every LLM call fails ends FAILED, visible, in the DLQ, and a retry summarizes it once more."""

from __future__ import annotations

import json

from stack_helpers import api_client, make_token, queue_messages, running_stack, session_body, wait_for

from local_stack.messages_server import ScriptedBackend, fail

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
