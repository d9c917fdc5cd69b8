"""A session whose every LLM call fails ends FAILED, visible, in the DLQ, and a retry summarizes it once more."""

from __future__ import annotations

import json
import time

from stack_helpers import api_client, make_token, queue_messages, running_stack, session_body, wait_for_stack

from local_stack.messages_server import ScriptedBackend, fail, hang, truncated

MARKER = "the-cursed-session"


def test_failing_session_is_failed_visible_dead_lettered_and_retryable():
    backend = ScriptedBackend()
    backend.always(fail(500, "upstream exploded"), when=MARKER)
    with running_stack(backend) as stack:
        token = make_token(stack, ["ingest", "read"], source="planner")
        with api_client(stack, token) as client:
            assert client.post("/sessions", json=session_body("fine-1")).status_code == 202
            assert client.post("/sessions", json=session_body("cursed-1", text=f"Text of {MARKER}")).status_code == 202

            failed = wait_for_stack(
                stack, lambda: (r := client.get("/sessions/cursed-1").json())["status"] == "FAILED" and r
            )
            assert "500" in failed["error"] and "upstream exploded" in failed["error"]
            assert failed["attempts"] == 3
            assert backend.calls_matching(MARKER) == 3  # one call per delivery (the SDK's retries are off here)
            # The last delivery's message goes to the DLQ; its consumer finds the session FAILED and keeps its error.
            wait_for_stack(stack, lambda: queue_messages(stack, "SummarizeDLQ") == 0)
            assert client.get("/sessions/cursed-1").json()["error"] == failed["error"]
            assert client.get("/sessions/fine-1").json()["status"] == "SUMMARIZED"

            assert client.post("/sessions/fine-1/retry").status_code == 409  # only FAILED sessions retry
            backend.reset()
            calls_before = backend.calls
            assert client.post("/sessions/cursed-1/retry").status_code == 202
            done = wait_for_stack(
                stack, lambda: (r := client.get("/sessions/cursed-1").json())["status"] == "SUMMARIZED" and r
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

            once = wait_for_stack(stack, lambda: settled("cut-once", "SUMMARIZED"))
            assert once["stop_reason"] == "end_turn" and backend.calls_matching("cut-once") == 2
            assert client.get("/summaries/cut-once").json()["text"].startswith("Scripted summary")

            failed = wait_for_stack(stack, lambda: settled("cut-twice", "FAILED"))
            assert "stop_reason=max_tokens" in failed["error"] and failed["stop_reason"] == "max_tokens"
            assert client.get("/summaries/cut-twice").json()["text"] is None  # no partial summary kept
            assert backend.calls_matching("cut-twice") == 2  # cut off is final: not delivered again

            assert client.post("/sessions/cut-twice/retry").status_code == 202
            done = wait_for_stack(stack, lambda: settled("cut-twice", "SUMMARIZED"))
            assert done["stop_reason"] == "end_turn" and "error" not in done


# The template's LLM settings (60 s a try, 3 retries) in a function that has 10 s: the SDK alone would take minutes.
TEMPLATE_LLM = {"LLM_TIMEOUT_SECONDS": "60", "LLM_MAX_RETRIES": "3"}
SHORT_TIMEOUT = {"SummarizeTimeoutSeconds": "10"}


def test_a_provider_that_never_answers_leaves_the_session_failed_with_its_reason_not_stuck():
    backend = ScriptedBackend()
    backend.always(hang(3600), when="never-answers")
    with running_stack(backend, extra_env=TEMPLATE_LLM, parameters=SHORT_TIMEOUT) as stack:
        token = make_token(stack, ["ingest", "read"], source="planner")
        with api_client(stack, token) as client:
            body = session_body("silent-1", text="This one never-answers")
            assert client.post("/sessions", json=body).status_code == 202
            started = time.monotonic()
            failed = wait_for_stack(
                stack, lambda: (r := client.get("/sessions/silent-1").json())["status"] == "FAILED" and r
            )
            assert time.monotonic() - started < 90  # three deliveries, each ended by the time left, not killed
            assert "timed out" in failed["error"] and failed["attempts"] == 3
            wait_for_stack(stack, lambda: queue_messages(stack, "SummarizeDLQ") == 0)  # consumed, session kept
            assert client.get("/sessions/silent-1").json()["error"] == failed["error"]
            assert client.post("/sessions/silent-1/retry").status_code == 202


def test_a_delivery_killed_at_its_timeout_every_time_ends_failed_through_the_dead_letter_queue(tmp_path):
    env = {
        "SSP_FAULT_DIR": str(tmp_path),
        "SSP_FAULT_HANG": json.dumps({"s3.GetObject": {"match": "killed-1", "times": 3}}),
    }
    with running_stack(extra_env=env, parameters=SHORT_TIMEOUT, worker_preload=("fault_hooks",)) as stack:
        token = make_token(stack, ["ingest", "read"], source="planner")
        with api_client(stack, token) as client:
            assert client.post("/sessions", json=session_body("killed-1")).status_code == 202
            attempted = wait_for_stack(
                stack, lambda: (r := client.get("/sessions/killed-1").json())["attempts"] >= 1 and r
            )
            assert attempted["status"] == "RECEIVED"  # each delivery shows while the function is still running
            failed = wait_for_stack(
                stack, lambda: (r := client.get("/sessions/killed-1").json())["status"] == "FAILED" and r
            )
            assert "dead-letter queue" in failed["error"] and "timeout" in failed["error"]
            assert failed["attempts"] == 3
            wait_for_stack(stack, lambda: queue_messages(stack, "SummarizeDLQ") == 0)
            assert client.post("/sessions/killed-1/retry").status_code == 202
            done = wait_for_stack(
                stack, lambda: (r := client.get("/sessions/killed-1").json())["status"] == "SUMMARIZED" and r
            )
            assert "error" not in done


def test_a_model_missing_from_the_price_table_is_summarized_with_its_cost_unknown():
    with running_stack(extra_env={"SUMMARIZER_MODEL_ID": "claude-mystery-9"}) as stack:
        token = make_token(stack, ["ingest", "read"], source="planner")
        with api_client(stack, token) as client:
            for session_id in ("unpriced-1", "unpriced-2"):
                assert client.post("/sessions", json=session_body(session_id)).status_code == 202
            for session_id in ("unpriced-1", "unpriced-2"):
                done = wait_for_stack(
                    stack,
                    lambda sid=session_id: (r := client.get(f"/sessions/{sid}").json())["status"] != "RECEIVED" and r,
                )
                assert done["status"] == "SUMMARIZED", done.get("error")
                assert done["cost_usd"] is None and done["usage"]["output_tokens"] > 0
            [model] = client.get("/usage").json()["models"]
            assert (model["model_id"], model["calls"], model["unpriced_calls"]) == ("claude-mystery-9", 2, 2)
            assert model["cost_usd"] is None and model["output_tokens"] > 0
