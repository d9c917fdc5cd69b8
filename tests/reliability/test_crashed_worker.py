"""A summarize worker that dies mid-call (OOM-killed, a crash in native code) loses nothing and needs no retry."""

from __future__ import annotations

import os
import signal
import time

from stack_helpers import api_client, make_token, running_stack, session_body, wait_for, wait_for_stack

from local_stack.messages_server import ScriptedBackend, hang, reply

TIMEOUT_S = 10


def _ended(client, session_id: str) -> str | None:
    status = client.get(f"/sessions/{session_id}").json()["status"]
    return status if status in ("SUMMARIZED", "FAILED") else None


def test_a_summary_whose_worker_died_mid_call_is_made_once_the_function_timeout_has_passed():
    backend = ScriptedBackend()
    backend.script([hang(60), reply()], when="marker-killed")
    with running_stack(backend, parameters={"SummarizeTimeoutSeconds": str(TIMEOUT_S)}) as stack:
        client = api_client(stack, make_token(stack, ["ingest", "read"], source="planner"))
        body = session_body("crash-1", text="The worker dies during this call marker-killed")
        assert client.post("/sessions", json=body).status_code == 202
        wait_for_stack(stack, lambda: backend.calls_matching("marker-killed") >= 1, interval=0.1)
        time.sleep(0.5)
        killed = time.monotonic()
        for pid in stack.runtimes["SummarizeFunction"].worker_pids():
            os.kill(pid, signal.SIGKILL)

        # The dead worker's idempotency record stays in progress until its invocation's timeout; a redelivery
        # before then would be refused and counted as a failed attempt.
        assert wait_for_stack(stack, lambda: _ended(client, "crash-1"), interval=0.5) == "SUMMARIZED"
        assert backend.calls_matching("marker-killed") == 2
        assert time.monotonic() - killed < 3 * TIMEOUT_S


def test_a_worker_that_died_while_idle_is_replaced_by_a_cold_start_without_a_failed_invocation(caplog):
    with running_stack(parameters={"SummarizeTimeoutSeconds": "30"}) as stack:
        client = api_client(stack, make_token(stack, ["ingest", "read"], source="planner"))

        def summarized(session_id: str) -> None:
            assert client.post("/sessions", json=session_body(session_id)).status_code == 202
            assert wait_for_stack(stack, lambda: _ended(client, session_id)) == "SUMMARIZED"

        summarized("idle-0")
        runtime = stack.runtimes["SummarizeFunction"]
        wait_for(lambda: runtime.running == 0)  # SUMMARIZED is written before the invocation returns
        for pid in runtime.worker_pids():
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        for n in (1, 2):  # the environments take turns: one of these meets the dead worker's
            summarized(f"idle-{n}")
    failed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("batch failed")]
    assert failed == []  # before: 'batch failed (its 1 message(s) come back in 30 s): ... Runtime.ExitError'
