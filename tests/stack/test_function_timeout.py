"""The local runtime ends an invocation at the function's Timeout as Lambda does: the environment running it is
killed, the invocation fails with Lambda's timeout error, and the next one starts in a fresh environment."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from local_stack.progress import Progress
from local_stack.runtime import FunctionError, FunctionRuntime, InvocationStopped


def alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def runtime(concurrency: int) -> FunctionRuntime:
    return FunctionRuntime("SlowFunction", "hanging_handler.lambda_handler", {}, timeout_s=3, concurrency=concurrency)


def test_an_invocation_past_its_timeout_is_killed_and_the_next_one_runs_fresh():
    one = runtime(concurrency=1)
    try:
        warm = one.invoke({"sleep": 0})["pid"]
        started = time.monotonic()
        with pytest.raises(FunctionError) as timed_out:
            one.invoke({"sleep": 600})
        assert time.monotonic() - started < 10
        assert timed_out.value.error["errorType"] == "Sandbox.Timedout"
        assert "Task timed out after 3.00 seconds" in timed_out.value.error["errorMessage"]
        assert not alive(warm)
        fresh = one.invoke({"sleep": 0})
        assert fresh["pid"] != warm and 0 < fresh["remaining_ms"] <= 3000
    finally:
        one.close()


def test_a_timeout_ends_only_its_own_environment():
    two = runtime(concurrency=2)
    try:
        with ThreadPoolExecutor(2) as pool:
            hung = pool.submit(two.invoke, {"sleep": 600})
            time.sleep(0.5)
            quick = pool.submit(two.invoke, {"sleep": 1})
            assert quick.result(timeout=30)["remaining_ms"] > 0  # the other environment is not broken
            with pytest.raises(FunctionError, match="timed out"):
                hung.result(timeout=30)
    finally:
        two.close()


def test_a_stop_mid_invocation_is_reported_as_a_stop_not_a_failure():
    reports = []
    one = FunctionRuntime(
        "SlowFunction", "hanging_handler.lambda_handler", {}, timeout_s=60, concurrency=1, telemetry=reports.append
    )
    try:
        one.invoke({"sleep": 0})
        with ThreadPoolExecutor(1) as pool:
            hung = pool.submit(one.invoke, {"sleep": 600})
            time.sleep(0.5)
            one.close(grace_s=0.2)
            with pytest.raises(InvocationStopped) as stopped:
                hung.result(timeout=30)
        assert "stopped during the invocation" in stopped.value.error["errorMessage"]
        with pytest.raises(InvocationStopped):  # nothing new starts on a closed runtime
            one.invoke({"sleep": 0})
        last = [r["record"] for r in reports if r["type"] == "platform.report"][-1]
        assert last["status"] == "stopped"
        assert Progress(time.monotonic).describe(reports[-1]) == (
            "SlowFunction was stopped mid-run: its work runs again on the next start"
        )
    finally:
        one.close()
