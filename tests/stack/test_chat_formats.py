"""Standard chat formats at ingest, through the local gateway: Anthropic content blocks and OpenAI-style messages
are accepted, stored without losing a field, shown to the summarizer with readable placeholders, and hashed the
same way whenever the content is the same."""

from __future__ import annotations

import base64
import json

import pytest
from stack_helpers import api_client, make_token, running_stack, session_body, wait_for_stack

from local_stack.messages_server import ScriptedBackend
from schemas.contracts import Session

PIXEL = base64.b64encode(b"\x89PNG" + b"\0" * 3000).decode()
ANTHROPIC_TURNS = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What's the weather where my dentist is?", "cache_control": {"type": "ephemeral"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/map.png"}},
        ],
        "timestamp": "2026-11-24T09:00:05Z",
    },
    {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "The dentist is in Paris.", "signature": "sig-1"},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        ],
    },
    {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "18°C"}]}],
    },
    {"role": "assistant", "content": "18°C in Paris.", "stop_reason": "end_turn", "model": "claude-x"},
]
OPENAI_MESSAGES = [
    {"role": "developer", "content": "Answer briefly."},
    {"role": "system", "content": "You are a planner."},
    {
        "role": "user",
        "name": "ana",
        "content": [
            {"type": "text", "text": "Book the dentist for Friday"},
            {"type": "image_url", "image_url": {"url": "https://example.com/card.jpg", "detail": "low"}},
        ],
    },
    {
        "role": "assistant",
        "content": None,
        "refusal": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "book", "arguments": '{"day": "2026-11-27"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "Booked for 09:00."},
    {"role": "function", "name": "legacy_lookup", "content": "ok"},
    {"role": "assistant", "content": "Booked: Friday 09:00.", "audio": {"id": "audio_1"}},
]


@pytest.fixture(scope="module")
def backend() -> ScriptedBackend:
    return ScriptedBackend()


@pytest.fixture(scope="module")
def stack(backend):
    with running_stack(backend) as running:
        yield running


@pytest.fixture(scope="module")
def client(stack):
    with api_client(stack, make_token(stack, ["ingest", "read"], source="planner", name="formats")) as http:
        yield http


def stored_raw(stack, session_id: str) -> dict:
    item = stack.client("dynamodb").get_item(
        TableName=stack.resolved("SessionsTable"), Key={"session_id": {"S": session_id}}, ConsistentRead=True
    )["Item"]
    body = stack.client("s3").get_object(Bucket=stack.resolved("DataBucket"), Key=item["raw_key"]["S"])["Body"].read()
    return json.loads(body)


def prompt_for(stack, backend: ScriptedBackend, client, session_id: str) -> str:
    wait_for_stack(stack, lambda: client.get(f"/sessions/{session_id}").json()["status"] == "SUMMARIZED")
    request = next(r for r in backend.requests if session_id in r["prompt"])
    return request["body"]["messages"][0]["content"][0]["text"]


def without_turn_metadata(turn: dict) -> dict:
    """A turn as sent, with the fields the contract does not name folded into metadata as the cloud keeps them."""
    named = {"role", "content", "timestamp", "name", "tool_calls", "tool_call_id", "function_call", "metadata"}
    extra = {k: v for k, v in turn.items() if k not in named}
    kept = {"timestamp": None, **{k: v for k, v in turn.items() if k in named}}
    return {**kept, **({"metadata": extra} if extra else {})}


def test_anthropic_content_blocks_are_kept_and_read_as_placeholders(stack, client, backend):
    body = {**session_body("fmt-anthropic"), "turns": ANTHROPIC_TURNS}
    posted = client.post("/sessions", json=body)
    assert posted.status_code == 202, posted.text
    stored = stored_raw(stack, "fmt-anthropic")
    for sent, kept in zip(ANTHROPIC_TURNS, stored["turns"], strict=True):
        assert kept == without_turn_metadata(sent)
    assert stored["turns"][3]["metadata"] == {"stop_reason": "end_turn", "model": "claude-x"}

    prompt = prompt_for(stack, backend, client, "fmt-anthropic")
    assert "[image: image/png, 2 KB inline]" in prompt and PIXEL not in prompt
    assert "[image: https://example.com/map.png]" in prompt
    assert '[tool call get_weather (id toolu_1): {\\"city\\": \\"Paris\\"}]' in prompt
    assert "[tool result for toolu_1: 18°C]" in prompt and "[thinking: The dentist is in Paris.]" in prompt
    assert client.post("/sessions", json=body).status_code == 200  # the same content again: accepted once


def test_openai_messages_become_turns_without_losing_a_field(stack, client, backend):
    body = {**{k: v for k, v in session_body("fmt-openai").items() if k != "turns"}, "messages": OPENAI_MESSAGES}
    posted = client.post("/sessions", json=body)
    assert posted.status_code == 202, posted.text
    stored = stored_raw(stack, "fmt-openai")
    assert "messages" not in stored
    assert stored["turns"] == [without_turn_metadata(m) for m in OPENAI_MESSAGES]

    prompt = prompt_for(stack, backend, client, "fmt-openai")
    for placeholder in (
        '"role": "developer"',
        '"name": "ana"',
        "[image: https://example.com/card.jpg]",
        '[tool call book (id call_1): {\\"day\\": \\"2026-11-27\\"}]',
        "[result of tool call call_1]",
    ):
        assert placeholder in prompt, placeholder

    as_turns = {**session_body("fmt-openai"), "turns": OPENAI_MESSAGES}
    assert Session.model_validate(as_turns).content_hash() == Session.model_validate(body).content_hash()
    again = client.post("/sessions", json=as_turns)  # the same content as turns: the same session
    assert again.status_code == 200 and again.json()["status"] == "SUMMARIZED", again.text


def test_sdk_tool_call_messages_with_empty_content_are_taken(stack, client, backend):
    """Several SDKs send content "" (not null) beside tool_calls, and a tool may return nothing."""
    messages = [
        {"role": "user", "content": "Weather in Vienna?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": ""},
        {"role": "assistant", "content": "No forecast came back."},
    ]
    body = {**{k: v for k, v in session_body("fmt-empty").items() if k != "turns"}, "messages": messages}
    posted = client.post("/sessions", json=body)
    assert posted.status_code == 202, posted.text
    assert stored_raw(stack, "fmt-empty")["turns"] == [without_turn_metadata(m) for m in messages]
    prompt = prompt_for(stack, backend, client, "fmt-empty")
    assert "[tool call get_weather (id call_1): {}]" in prompt and "[result of tool call call_1]" in prompt


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"turns": [{"role": "user", "content": ""}]}, "turns.0"),
        ({"turns": [{"role": "user", "content": [{"type": "text"}]}]}, "turns.0.content"),
        ({"turns": [{"role": "user", "content": [{"text": "no type"}]}]}, "turns.0.content"),
        ({"turns": [{"role": "assistant", "content": None}]}, "turns.0"),
        ({"turns": [{"role": "user", "content": "hi", "x": 1, "metadata": {"x": 2}}]}, "turns.0"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "(body)"),
    ],
)
def test_a_malformed_turn_is_refused_naming_the_field(stack, client, change, field):
    body = {**session_body("fmt-bad"), **change}
    refused = client.post("/sessions", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["message"].startswith(field), refused.json()
    assert client.get("/sessions/fmt-bad").status_code == 404
