"""Refuses and records every DynamoDB Scan made in this process (preloaded into local function workers)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3

LOG = Path(os.environ.get("SSP_SCAN_LOG", "/tmp/ssp-scans.jsonl"))


class ScanOnRequestPath(RuntimeError):
    pass


def _refuse(model, params, **_):
    with LOG.open("a") as fh:
        fh.write(json.dumps({"table": params.get("TableName"), "pid": os.getpid()}) + "\n")
    raise ScanOnRequestPath(f"Scan of {params.get('TableName')} on a request path")


def install(session=None) -> None:
    session = session or boto3.DEFAULT_SESSION or boto3.setup_default_session() or boto3.DEFAULT_SESSION
    session.events.register("before-parameter-build.dynamodb.Scan", _refuse)


if os.environ.get("SSP_SCAN_LOG"):
    install()
