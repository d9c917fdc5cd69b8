"""The local WebSocket API: the template's authorizer guards $connect, and table changes reach dashboards."""

from __future__ import annotations

import json

import pytest
from stack_helpers import api_client, make_token, running_stack, session_body, wait_for
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect


@pytest.fixture(scope="module")
def stack():
    with running_stack() as running:
        yield running


def test_connection_without_a_read_token_is_refused(stack):
    for query in ("", "?token=ssp_forged", f"?token={make_token(stack, ['edge'], name='edge-only')}"):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{stack.websocket_api.url}{query}", open_timeout=10)
        assert refused.value.response.status_code in (401, 403)


def test_a_posted_session_is_pushed_to_an_open_dashboard(stack):
    token = make_token(stack, ["read"], name="dashboard")
    ingest = make_token(stack, ["ingest"], source="planner", name="planner")
    with connect(f"{stack.websocket_api.url}?token={token}", open_timeout=10) as socket:
        with api_client(stack, ingest) as client:
            assert client.post("/sessions", json=session_body("live-1")).status_code == 202
        seen = []
        while not any(m.get("summary_id") == "live-1" and m.get("status") == "SUMMARIZED" for m in seen):
            seen.append(json.loads(socket.recv(timeout=30)))
        assert seen[0] == {"type": "summary", "event": "INSERT", "summary_id": "live-1", "status": "RECEIVED"}
        assert _open_connections(stack) == 1
    wait_for(lambda: _open_connections(stack) == 0, timeout=10)  # $disconnect removed it


def _open_connections(stack) -> int:
    return stack.client("dynamodb").query(
        TableName=stack.resolved("ConnectionsTable"),
        KeyConditionExpression="channel = :c",
        ExpressionAttributeValues={":c": {"S": "dashboard"}},
        ConsistentRead=True,
    )["Count"]
