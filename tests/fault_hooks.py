"""Fault injection for function workers: fail or hang chosen AWS calls via botocore event hooks.

Loaded into each local function worker before its handler (StackOptions.worker_preload). The plan comes
from SSP_FAULT_PLAN, e.g. {"s3.PutObject": [3, 8], "dynamodb.UpdateItem": [4]}: the 3rd and 8th PutObject
calls across all workers fail. SSP_FAULT_HANG, e.g. {"s3.GetObject": {"match": "sessions/slow-1/", "times": 3}},
makes the first 3 calls whose parameters mention the text never return (the worker is ended by its timeout).
Counters and the log of injected faults live in SSP_FAULT_DIR.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

PLAN = json.loads(os.environ.get("SSP_FAULT_PLAN", "{}"))
HANG = json.loads(os.environ.get("SSP_FAULT_HANG", "{}"))
HANG_SECONDS = 3600
STATE = Path(os.environ.get("SSP_FAULT_DIR", "/tmp"))


def _next_count(operation: str) -> int:
    with open(STATE / "counters.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = STATE / f"{operation}.count"
        count = int(path.read_text()) + 1 if path.exists() else 1
        partial = path.with_suffix(".partial")  # replaced whole: a worker killed mid-write leaves the old count
        partial.write_text(str(count))
        os.replace(partial, path)
        return count


def _inject(operation: str, model, params: dict | None = None, **_):
    count = _next_count(operation)
    if count in PLAN.get(operation, []):
        request = json.dumps(params or {}, default=str)  # what the failed call carried (its session id, say)
        with open(STATE / "injected.jsonl", "a") as log:
            log.write(
                json.dumps({"operation": operation, "call": count, "pid": os.getpid(), "request": request}) + "\n"
            )
        raise ClientError(
            {
                "Error": {"Code": "InternalError", "Message": f"injected fault on {operation} #{count}"},
                "ResponseMetadata": {"HTTPStatusCode": 500},
            },
            model.name,
        )


def _hang(operation: str, params: dict, **_):
    rule = HANG[operation]
    if rule["match"] not in json.dumps(params, default=str):
        return
    if _next_count(f"{operation}.hang") <= rule["times"]:
        with open(STATE / "injected.jsonl", "a") as log:
            log.write(json.dumps({"operation": operation, "hang": True, "pid": os.getpid()}) + "\n")
        time.sleep(HANG_SECONDS)


if PLAN or HANG:
    boto3.setup_default_session()
for planned in HANG:
    service, name = planned.split(".", 1)
    boto3.DEFAULT_SESSION.events.register(
        f"before-parameter-build.{service}.{name}", lambda params, planned=planned, **kw: _hang(planned, params, **kw)
    )
if PLAN:
    for planned in PLAN:
        service, name = planned.split(".", 1)
        boto3.DEFAULT_SESSION.events.register(
            f"before-call.{service}.{name}", lambda model, planned=planned, **kw: _inject(planned, model, **kw)
        )


def injected(state_dir: Path) -> list[dict]:
    path = state_dir / "injected.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
