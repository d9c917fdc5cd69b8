"""Faults at every boundary of the cloud side; after recovery nothing is lost, nothing doubled, every failure visible.

Reduced size in `make test`; `make faults` runs the full size (SSP_SUITE_SIZE=full). The edge's own faults
(SIGKILL, API outage, two workers) are in tests/daemon/test_faults.py.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from counts import queue_depth, s3_keys, sessions_by_status
from fault_hooks import injected
from report import report
from stack_helpers import make_token, running_stack, session_body, wait_for, wait_for_stack
from suite_size import FULL

from local_stack.messages_server import ScriptedBackend, fail, hang, overloaded, rate_limited, reply, truncated

SESSIONS = 300 if FULL else 30
FAULT_PLAN = {
    "s3.PutObject": [5, 17, 29],
    "dynamodb.UpdateItem": [9, 23],
    "sqs.SendMessage": [12],
    "dynamodb.PutItem": [15],
}
MARKERS = ["rate-limited", "overloaded", "server-error", "timeout", "killed", "cut-once", "cut-twice"]
# Reading this session's raw object never returns on its first deliveries: the function is ended by its timeout.
TIMEOUT_KILLED = f"fault-{len(MARKERS):04d}"
HANG_PLAN = {"s3.GetObject": {"match": f"sessions/{TIMEOUT_KILLED}/", "times": 3}}


def _post(client: httpx.Client, body: dict) -> int:
    for attempt in range(6):  # a subsystem retries what the API could not take
        try:
            status = client.post("/sessions", json=body).status_code
            if status < 500:
                return status
        except httpx.TransportError:
            pass
        time.sleep(0.3 * (attempt + 1))
    return 599


def test_faults_at_every_boundary_lose_nothing_and_double_nothing(tmp_path):
    backend = ScriptedBackend()
    backend.script([rate_limited(), rate_limited(), reply()], when="marker-rate-limited")
    backend.script([overloaded(), reply()], when="marker-overloaded")
    backend.script([fail(500, "upstream hiccup"), reply()], when="marker-server-error")
    backend.script([hang(8), reply()], when="marker-timeout")
    backend.script([hang(30), reply()], when="marker-killed")
    backend.script([truncated(), reply()], when="marker-cut-once")
    backend.script([truncated(), truncated(), reply()], when="marker-cut-twice")
    markers = MARKERS
    bodies = [
        session_body(
            f"fault-{n:04d}", text=f"Fault session {n} " + (f"marker-{markers[n]}" if n < len(markers) else "")
        )
        for n in range(SESSIONS)
    ]
    env = {
        "SSP_FAULT_PLAN": json.dumps(FAULT_PLAN),
        "SSP_FAULT_HANG": json.dumps(HANG_PLAN),
        "SSP_FAULT_DIR": str(tmp_path),
        "LLM_TIMEOUT_SECONDS": "4",
    }
    # A short function timeout lets the in-progress marker of a killed invocation expire quickly.
    with running_stack(
        backend, extra_env=env, worker_preload=("fault_hooks",), parameters={"SummarizeTimeoutSeconds": "15"}
    ) as stack:
        token = make_token(stack, ["ingest", "read"], source="planner")
        client = httpx.Client(base_url=stack.api_url, headers={"authorization": f"Bearer {token}"}, timeout=60)

        killed: list[int] = []
        killer = threading.Thread(target=_kill_summarizer_mid_call, args=(stack, backend, killed), daemon=True)
        killer.start()
        race = session_body("fault-race", text="Two subsystems race with this id")
        rival = session_body("fault-race", text="The rival content for the same id")
        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(lambda body: _post(client, body), bodies))
            race_statuses = list(pool.map(lambda body: _post(client, body), [race, rival] * 6))
        killer.join()
        assert killed, "no summarize worker was running while the call for marker-killed hung"

        expected = SESSIONS + 1
        retried = _settle_and_retry_failures(stack, client, expected)
        statuses_now = sessions_by_status(stack)
        faults = [fault for fault in injected(tmp_path) if not fault.get("hang")]
        hangs = [fault for fault in injected(tmp_path) if fault.get("hang")]
        failed_calls = sum(backend.calls_matching(f"marker-{m}") - 1 for m in markers)
        report(
            f"Faults: {SESSIONS} sessions + a conditional-write race",
            [
                ("AWS calls failed on purpose", len(faults)),
                ("by operation", ", ".join(sorted({f["operation"] for f in faults}))),
                ("LLM faults (429, 529, 500, timeout, killed worker, cut off at max_tokens)", failed_calls),
                ("deliveries ended by the function's timeout (a call that never returns)", len(hangs)),
                ("sessions accepted", statuses.count(202) + race_statuses.count(202)),
                (
                    "race answers (202/200/409)",
                    f"{race_statuses.count(202)}/{race_statuses.count(200)}/{race_statuses.count(409)}",
                ),
                ("FAILED before a retry (each with its reason)", len(retried)),
                ("reasons", "; ".join(sorted({reason.split(":")[0] for _, reason in retried})) or "-"),
                ("summarized after recovery", statuses_now.get("SUMMARIZED", 0)),
                ("stuck outside SUMMARIZED/FAILED", sum(n for s, n in statuses_now.items() if s != "SUMMARIZED")),
                ("lost (accepted, not stored)", expected - sum(statuses_now.values())),
                ("raw objects", s3_keys(stack, "sessions/")),
                ("summaries", s3_keys(stack, "summaries/")),
                ("LLM calls", backend.calls),
            ],
        )
        assert all(status == 202 for status in statuses)
        assert race_statuses.count(202) == 1 and race_statuses.count(409) >= 1
        assert statuses_now == {"SUMMARIZED": expected}
        assert all(reason for _, reason in retried)
        assert queue_depth(stack, "SummarizeDLQ") == 0  # every dead letter's session was marked FAILED, then retried
        assert len(hangs) == 3
        assert any(sid == TIMEOUT_KILLED and "dead-letter queue" in reason for sid, reason in retried)
        # fault-0006 (cut off twice) ends FAILED with its reason, unless an injected UpdateItem fault was the very
        # write of that FAILED: then its message came back and the next delivery made the summary.
        assert any(sid == "fault-0006" and "stop_reason=max_tokens" in reason for sid, reason in retried) or any(
            f["operation"] == "dynamodb.UpdateItem" and "fault-0006" in f["request"] and "max_tokens" in f["request"]
            for f in faults
        )
        assert s3_keys(stack, "sessions/") == expected == s3_keys(stack, "summaries/")
        assert {f["operation"] for f in faults} == set(FAULT_PLAN)
        assert backend.calls == expected + failed_calls  # every extra call is an injected LLM fault
        client.close()


def _settle_and_retry_failures(stack, client: httpx.Client, expected: int) -> list[tuple[str, str]]:
    """Wait until every session is SUMMARIZED or FAILED, then retry the FAILED ones as an operator would."""
    retried: list[tuple[str, str]] = []
    for _ in range(5):
        wait_for_stack(
            stack,
            lambda: (
                sum(sessions_by_status(stack).values()) == expected
                and sessions_by_status(stack).get("RECEIVED", 0) == 0
                and queue_depth(stack, "SummarizeQueue") == 0
            ),
            interval=1,
        )
        failed = [
            item["session_id"]["S"]
            for page in stack.client("dynamodb")
            .get_paginator("query")
            .paginate(
                TableName=stack.resolved("SessionsTable"),
                IndexName="by_status",
                KeyConditionExpression="#s = :f",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":f": {"S": "FAILED"}},
            )
            for item in page["Items"]
        ]
        if not failed:
            return retried
        for session_id in failed:
            retried.append((session_id, client.get(f"/sessions/{session_id}").json().get("error", "")))
            assert client.post(f"/sessions/{session_id}/retry").status_code == 202
    raise AssertionError(f"sessions still FAILED after retries: {failed}")


def _kill_summarizer_mid_call(stack, backend, killed: list[int]) -> None:
    """SIGKILL the summarize workers while the LLM call for one session hangs (a crashed Lambda); their pids go
    into `killed`. The hung call lasts LLM_TIMEOUT_SECONDS, so the wait follows the call, not the stack."""
    wait_for(lambda: backend.calls_matching("marker-killed") >= 1, timeout=600, interval=0.1)
    time.sleep(0.5)
    for pid in stack.runtimes["SummarizeFunction"].worker_pids():
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
