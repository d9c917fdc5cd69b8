"""Every list on a request path is a paginated Query: a Scan anywhere in a function fails this test."""

from __future__ import annotations

import json
import re

import boto3
import pytest
from stack_helpers import api_client, make_token, running_stack, session_body, wait_for_stack

from schemas.system_definition import load_systems

PATH_VALUES = {
    "session_id": "scan-1",
    "summary_id": "scan-1",
    "system": "planner",
    "asset": "app.js",
    "request_id": "rf-unknown",
    "version_id": "schema:unknown",
    "query_id": "q-unknown",
    "user_id": "user-1",
}


def test_the_guard_itself_refuses_a_scan(tmp_path, monkeypatch):
    import scan_guard

    monkeypatch.setattr(scan_guard, "LOG", tmp_path / "scans.jsonl")
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    scan_guard.install(session)
    with pytest.raises(scan_guard.ScanOnRequestPath):
        session.client("dynamodb", endpoint_url="http://127.0.0.1:9").scan(TableName="anything")
    assert "anything" in (tmp_path / "scans.jsonl").read_text()


def test_every_get_route_answers_without_a_scan(tmp_path):
    log = tmp_path / "scans.jsonl"
    with running_stack(extra_env={"SSP_SCAN_LOG": str(log)}, worker_preload=("scan_guard",)) as stack:
        with api_client(stack, make_token(stack, ["ingest"], source="planner", name="ingest")) as client:
            assert client.post("/sessions", json=session_body("scan-1")).status_code == 202
        edge = api_client(stack, make_token(stack, ["edge"], name="edge"))
        planner = load_systems().systems["planner"]
        assert edge.put("/edge/systems/planner", json=planner.to_dict()).status_code == 200
        reader = api_client(stack, make_token(stack, ["admin"], name="admin"))
        wait_for_stack(stack, lambda: reader.get("/sessions/scan-1").json()["status"] == "SUMMARIZED")
        assert (
            edge.put(
                "/edge/summaries/scan-1/systems/planner",
                json={
                    "document": planner.examples[0]["expected"],
                    "expected_version": 0,
                    "lineage": {
                        "translator_model_version": "m",
                        "translator_prompt_version": "p",
                        "schema_version": planner.schema_version,
                    },
                },
            ).status_code
            == 201
        )
        assert reader.post("/refresh", json={"system": "planner"}).status_code == 202  # the backfill has its own queue

        answers = {}
        for route in stack.app.http_routes:
            if route.method != "GET":
                continue
            path = re.sub(r"\{(\w+)\+?\}", lambda m: PATH_VALUES[m.group(1)], route.path)
            params = {"/registry": {"kind": "schema"}, "/search": {"q": "dentist"}}.get(route.path, {})
            for extra in ({}, {"status": "SUMMARIZED"}, {"source": "planner"}, {"limit": "1"}, {"since": "0"}):
                answers[f"{path} {json.dumps(extra)}"] = reader.get(path, params={**params, **extra}).status_code
        edge.close()
        reader.close()
    assert not [key for key, status in answers.items() if status >= 500], answers
    assert not log.exists(), log.read_text()
