"""A summarize worker that dies mid-call (OOM-killed, a crash in native code) loses nothing and needs no retry."""

from __future__ import annotations

import os
import signal
import time

from stack_helpers import api_client, make_token, running_stack, session_body, wait_for_stack

from local_stack.messages_server import ScriptedBackend, hang, reply

TIMEOUT_S = 10


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

        def ended() -> str | None:
            status = client.get("/sessions/crash-1").json()["status"]
            return status if status in ("SUMMARIZED", "FAILED") else None

        # The dead worker's idempotency record stays in progress until its invocation's timeout; a redelivery
        # before then would be refused and counted as a failed attempt.
        assert wait_for_stack(stack, ended, interval=0.5) == "SUMMARIZED"
        assert backend.calls_matching("marker-killed") == 2
        assert time.monotonic() - killed < 3 * TIMEOUT_S
