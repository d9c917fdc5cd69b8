"""Deleting a user with many sessions while AWS calls fail and a purge worker is killed: the job finishes (asked
again, it resumes), its counts are exact, nothing of the user is left anywhere, and nobody else loses anything.

Reduced size in `make test`; `make faults` runs it with 500 sessions (SSP_SUITE_SIZE=full).
"""

from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from counts import queue_depth
from data_traces import none_left, traces
from fault_hooks import injected
from report import report
from stack_helpers import StackIdle, make_token, running_stack, session_body, wait_for_stack
from suite_size import FULL

from local_stack.messages_server import ScriptedBackend
from schemas.contracts import Session

SESSIONS, OTHERS, RECORDS = (500, 20, 100) if FULL else (40, 5, 10)
PLANNER = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "systems" / "planner.json").read_text())
USER, OTHER = "doomed-user", "other-user"
# Calls only the deletion makes (TransactWriteItems and DeleteItem count the setup's record uploads first).
FAULT_PLAN = {
    "s3.DeleteObjects": [4, 19, 40],
    "s3.ListObjectVersions": [7, 33, 61],
    "dynamodb.BatchWriteItem": [2, 9],
    "dynamodb.DeleteItem": [RECORDS + 5, RECORDS + 27],  # each record upload releases its refresh slot first
    "sqs.SendMessageBatch": [1],
    "dynamodb.TransactWriteItems": [RECORDS + 3, RECORDS + 30, RECORDS + 70],
}


def _body(n: int, user: str) -> dict:
    return {**session_body(f"{user}-{n:04d}", text=f"Session {n} of {user}"), "user_id": user}


def _status(client: httpx.Client) -> dict:
    return client.get(f"/users/{USER}/deletion").json()


def test_a_users_deletion_under_faults_leaves_nothing_and_takes_nothing_else(tmp_path):
    mine = [_body(n, USER) for n in range(SESSIONS)]
    theirs = [_body(n, OTHER) for n in range(OTHERS)]
    env = {"SSP_FAULT_PLAN": json.dumps(FAULT_PLAN), "SSP_FAULT_DIR": str(tmp_path)}
    with running_stack(ScriptedBackend(), extra_env=env, worker_preload=("fault_hooks",)) as stack:
        token = make_token(stack, ["ingest", "read", "edge", "delete"], source="planner", name="operator")
        client = httpx.Client(base_url=stack.api_url, headers={"authorization": f"Bearer {token}"}, timeout=60)
        schema = client.put("/edge/systems/planner", json=PLANNER).json()["schema_version"]  # no backfill yet
        with ThreadPoolExecutor(6) as pool:
            assert set(pool.map(lambda body: client.post("/sessions", json=body).status_code, mine + theirs)) == {202}
        wait_for_stack(stack, lambda: _summarized(stack) == SESSIONS + OTHERS, interval=1)
        lineage = {"translator_model_version": "m", "translator_prompt_version": "p", "schema_version": schema}
        for body in mine[:RECORDS]:  # one at a time: the fault plan counts these transactions first
            upload = {"document": {"tasks": [], "events": []}, "lineage": lineage, "expected_version": 0}
            assert client.put(f"/edge/summaries/{body['session_id']}/systems/planner", json=upload).status_code == 201
        assert client.get(f"/users/{USER}/export").status_code == 200
        kept_before = traces(stack, _hashes(theirs), [OTHER])

        started = time.monotonic()
        assert client.delete(f"/users/{USER}").status_code == 202
        wait_for_stack(stack, lambda: _status(client)["sessions_deleted"] >= SESSIONS // 5)
        for pid in stack.runtimes["PurgeFunction"].worker_pids():  # a crashed purge, mid-job
            os.kill(pid, signal.SIGKILL)
        resumed = _finish(stack, client)
        seconds = time.monotonic() - started
        done, faults = _status(client), injected(tmp_path)
        left = traces(stack, _hashes(mine), [USER])
        report(
            f"Deleting a user with {SESSIONS} sessions under faults",
            [
                ("AWS calls failed on purpose", len(faults)),
                ("by operation", ", ".join(sorted({f["operation"] for f in faults}))),
                ("purge workers killed", "yes"),
                ("asked again to resume", resumed),
                ("sessions found / deleted", f"{done['sessions_found']} / {done['sessions_deleted']}"),
                ("traces left of the user", sum(left.values())),
                ("deletion DLQ", queue_depth(stack, "DeletionDLQ")),
                ("seconds to done", round(seconds, 1)),
            ],
        )
        assert (done["status"], done["sessions_found"], done["sessions_deleted"]) == ("done", SESSIONS, SESSIONS)
        assert none_left(left), left
        assert {f["operation"] for f in faults} == set(FAULT_PLAN)
        assert traces(stack, _hashes(theirs), [OTHER]) == kept_before
        assert all(client.get(f"/sessions/{b['session_id']}").json()["status"] == "SUMMARIZED" for b in theirs)
        assert queue_depth(stack, "DeletionQueue") == 0
        client.close()


def _finish(stack, client: httpx.Client) -> bool:
    """Follow the job to its end; if its work ended in the DLQ and the stack went idle, ask again as an operator
    would (True then)."""
    try:
        wait_for_stack(stack, lambda: _status(client)["status"] == "done", interval=0.5)
        return False
    except StackIdle:
        assert client.delete(f"/users/{USER}").status_code == 200  # the running job is resumed, not restarted
        wait_for_stack(stack, lambda: _status(client)["status"] == "done", interval=0.5)
        return True


def _hashes(bodies: list[dict]) -> dict[str, str]:
    return {body["session_id"]: Session.model_validate(body).content_hash() for body in bodies}


def _summarized(stack) -> int:
    pages = (
        stack.client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName=stack.resolved("SessionsTable"),
            IndexName="by_status",
            KeyConditionExpression="#s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": "SUMMARIZED"}},
            Select="COUNT",
        )
    )
    return sum(page["Count"] for page in pages)
