"""Every bad request gets a 4xx naming the problem and leaves no S3 object and no table item."""

from __future__ import annotations

import json

import pytest
from stack_helpers import api_client, make_token, running_stack, session_body

BIG = 1_048_576


def _without(field: str) -> dict:
    body = session_body("bad-missing")
    body.pop(field)
    return body


def _with(**changes) -> dict:
    return {**session_body("bad-changed"), **changes}


CASES = [
    # name, raw body bytes, content-type, expected status, expected error code, text the message must contain
    ("malformed JSON", b'{"session_id": "x", ', "application/json", 400, "invalid_json", "not valid JSON"),
    (
        "a key twice",
        json.dumps(session_body("bad-twice"))
        .replace('"session_id"', '"session_id": "bad-once", "session_id"')
        .encode(),
        "application/json",
        400,
        "invalid_json",
        "the key 'session_id' appears twice in one object",
    ),
    ("null body", b"null", "application/json", 422, "invalid_body", "body must be a JSON object, got null"),
    (
        "missing field",
        json.dumps(_without("user_id")).encode(),
        "application/json",
        422,
        "validation_failed",
        "user_id",
    ),
    ("wrong type", json.dumps(_with(turns="hello")).encode(), "application/json", 422, "validation_failed", "turns"),
    (
        "oversized body",
        json.dumps(_with(metadata={"pad": "x" * BIG})).encode(),
        "application/json",
        413,
        "payload_too_large",
        "limit",
    ),
    (
        "too many turns",
        json.dumps(_with(turns=[{"role": "user", "content": "hi"}] * 501)).encode(),
        "application/json",
        413,
        "too_many_turns",
        "501",
    ),
    (
        "wrong content-type",
        json.dumps(session_body("bad-ct")).encode(),
        "text/plain",
        415,
        "unsupported_media_type",
        "application/json",
    ),
    ("unknown field", json.dumps(_with(mood="great")).encode(), "application/json", 422, "validation_failed", "mood"),
    ("empty turns", json.dumps(_with(turns=[])).encode(), "application/json", 422, "validation_failed", "turns"),
    (
        "empty turn content",
        json.dumps(_with(turns=[{"role": "user", "content": ""}])).encode(),
        "application/json",
        422,
        "validation_failed",
        "content",
    ),
    (
        "blank turns",
        json.dumps(
            _with(
                turns=[
                    {"role": "user", "content": "  \n\t\u3000"},
                    {"role": "assistant", "content": "\u200b\u200e\ufeff"},
                    {"role": "user", "content": [{"type": "text", "text": " "}]},
                ]
            )
        ).encode(),
        "application/json",
        422,
        "empty_session",
        "nothing to summarize",
    ),
    ("non-UTF-8", b'{"session_id": "caf\xe9"}', "application/json", 400, "invalid_encoding", "UTF-8"),
    ("empty body", b"", "application/json", 400, "empty_body", "empty"),
    ("JSON array", b"[1, 2]", "application/json", 422, "invalid_body", "object"),
    (
        "ends before start",
        json.dumps(_with(ended_at="2026-11-24T08:00:00Z")).encode(),
        "application/json",
        422,
        "validation_failed",
        "before",
    ),
    (
        "path traversal id",
        json.dumps(_with(session_id="../../etc/passwd")).encode(),
        "application/json",
        422,
        "validation_failed",
        "session_id",
    ),
    (
        "source not bound to token",
        json.dumps(session_body("bad-source", source="synapse")).encode(),
        "application/json",
        403,
        "forbidden",
        "planner",
    ),
]


@pytest.fixture(scope="module")
def stack():
    with running_stack(event_sources=False) as running:
        yield running


def _stored_state(stack) -> tuple[int, int, int]:
    s3 = stack.client("s3")
    objects = s3.list_object_versions(Bucket=stack.resolved("DataBucket")).get("Versions", [])
    items = stack.client("dynamodb").scan(TableName=stack.resolved("SessionsTable"))["Count"]
    queued = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.resolved("SummarizeQueue"), AttributeNames=["ApproximateNumberOfMessages"]
    )
    return len(objects), items, int(queued["Attributes"]["ApproximateNumberOfMessages"])


@pytest.mark.parametrize("name,body,content_type,status,code,mentions", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_by_name_and_leaves_nothing(stack, name, body, content_type, status, code, mentions):
    token = make_token(stack, ["ingest"], source="planner", name=f"bad-{name}")
    before = _stored_state(stack)
    with api_client(stack, token) as client:
        response = client.post("/sessions", content=body, headers={"content-type": content_type})
    assert response.status_code == status, response.text
    error = response.json()
    assert error["error"] == code
    assert mentions in error["message"] + json.dumps(error.get("details"))
    assert _stored_state(stack) == before


def test_conflicting_content_for_an_accepted_id_is_409_and_changes_nothing(stack):
    token = make_token(stack, ["ingest"], source="planner", name="conflict")
    with api_client(stack, token) as client:
        assert client.post("/sessions", json=session_body("conflict-1")).status_code == 202
        before = _stored_state(stack)
        response = client.post("/sessions", json=session_body("conflict-1", text="Something else entirely"))
        assert response.status_code == 409
        assert response.json()["error"] == "conflict"
        assert _stored_state(stack) == before
        again = client.post("/sessions", json=session_body("conflict-1"))
        assert again.status_code == 200
        assert again.json()["status_url"] == "/sessions/conflict-1"
        assert _stored_state(stack) == before  # no second object, item or enqueue
