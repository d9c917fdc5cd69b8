"""Turns in standard chat formats: every block kind is kept as sent and read as text or a placeholder, and the
content hash of a session depends on its content only."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from functions.summarize.prompt import turn_line
from schemas.chat import readable_content
from schemas.contracts import Session, Turn

PLAIN = {
    "session_id": "s-1",
    "source": "planner",
    "user_id": "user-1",
    "started_at": "2026-11-24T09:00:00Z",
    "ended_at": "2026-11-24T09:10:00Z",
    "turns": [
        {"role": "user", "content": "Book the dentist for Friday", "timestamp": "2026-11-24T09:00:05Z"},
        {"role": "assistant", "content": "Noted."},
    ],
    "metadata": {"app": "x", "n": 2},
}


def test_a_plain_session_keeps_the_content_hash_it_had_before_chat_formats():
    assert Session.model_validate(PLAIN).content_hash() == (
        "aa97276334812d6dc74ecb0865b120e1e9b418769f8e6128b776c2b8396c2f44"
    )


def test_messages_and_turns_with_the_same_content_hash_alike_in_any_key_order():
    as_messages = {k: v for k, v in PLAIN.items() if k != "turns"} | {"messages": PLAIN["turns"]}
    shuffled = {**PLAIN, "turns": [dict(reversed(list(t.items()))) for t in PLAIN["turns"]]}
    hashes = {Session.model_validate(body).content_hash() for body in (PLAIN, as_messages, shuffled)}
    assert len(hashes) == 1
    moved = {**PLAIN, "turns": [{**PLAIN["turns"][0], "mood": "calm"}, PLAIN["turns"][1]]}
    in_metadata = {**PLAIN, "turns": [{**PLAIN["turns"][0], "metadata": {"mood": "calm"}}, PLAIN["turns"][1]]}
    assert Session.model_validate(moved).content_hash() == Session.model_validate(in_metadata).content_hash()
    assert Session.model_validate(moved).content_hash() not in hashes


@pytest.mark.parametrize(
    ("block", "shown"),
    [
        ({"type": "text", "text": "hello", "citations": []}, "hello"),
        ({"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}, "[image: https://x/y.png]"),
        ({"type": "image", "source": {"type": "file", "file_id": "file_1"}}, "[image: file file_1]"),
        (
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "A" * 4096}},
            "[image: image/jpeg, 3 KB inline]",
        ),
        (
            {"type": "document", "title": "Lease", "source": {"type": "text", "data": "Rent is due."}},
            '[document "Lease"]\nRent is due.',
        ),
        ({"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}}, "[document: https://x/a.pdf]"),
        ({"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}, '[tool call f (id t1): {"a": 1}]'),
        (
            {"type": "tool_result", "tool_use_id": "t1", "content": "ok", "is_error": True},
            "[tool result for t1 (error): ok]",
        ),
        ({"type": "thinking", "thinking": "hm", "signature": "s"}, "[thinking: hm]"),
        ({"type": "redacted_thinking", "data": "xyz"}, "[redacted thinking]"),
        ({"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}, "[image: image/png, 0 KB inline]"),
        ({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}, "[audio: wav, 0 KB inline]"),
        ({"type": "file", "file": {"filename": "notes.pdf", "file_data": "AAAA"}}, "[file: notes.pdf]"),
        ({"type": "refusal", "refusal": "I can't."}, "[refusal: I can't.]"),
        ({"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {}}, "[server_tool_use block]"),
    ],
)
def test_each_kind_of_block_is_kept_and_readable(block, shown):
    turn = Turn.model_validate({"role": "user", "content": [block]})
    assert turn.model_dump(mode="json")["content"] == [block]
    assert readable_content(turn.content) == shown


def test_tool_calls_and_results_read_as_placeholders_with_the_turns_own_fields():
    call = Turn.model_validate(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "book", "arguments": "{oops"}}],
            "function_call": {"name": "old_style", "arguments": "{}"},
        }
    )
    assert turn_line(2, call)["content"] == "[tool call book (id c1): {oops]\n[function call old_style: {}]"
    result = Turn.model_validate({"role": "tool", "tool_call_id": "c1", "content": "done", "name": "book", "x": 1})
    assert turn_line(3, result) == {
        "turn": 3,
        "role": "tool",
        "at": None,
        "content": "[result of tool call c1]\ndone",
        "name": "book",
        "metadata": {"x": 1},
    }


@pytest.mark.parametrize(
    "content",
    [
        [],
        [{"type": "text"}],
        [{"type": "tool_use", "id": "t", "name": "f", "input": "not an object"}],
        [{"type": "image_url", "image_url": {}}],
        [{"text": "no type"}],
        [{"type": ""}],
        [5],
        "",
    ],
)
def test_a_malformed_block_is_refused(content):
    with pytest.raises(ValidationError):
        Turn.model_validate({"role": "user", "content": content})
