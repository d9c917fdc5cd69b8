"""Search finds words of scripts written without spaces (Chinese, Japanese, Thai) by their parts, through the
API: the summary's index entry and the query are cut the same way."""

from __future__ import annotations

import pytest
from stack_helpers import api_client, make_token, running_stack, wait_for_stack

SESSIONS = {
    "zh-budget": "明天和田中开会讨论预算",  # a meeting with Tanaka about the budget
    "ja-budget": "田中さんと来年の予算について話した",
    "th-budget": "ประชุมงบประมาณกับคุณทานากะ",
    "en-budget": "Budget review with Priya on Thursday",
}


def body(session_id: str) -> dict:
    return {
        "session_id": session_id,
        "source": "planner",
        "user_id": "u-1",
        "started_at": "2026-11-24T09:00:00Z",
        "ended_at": "2026-11-24T09:10:00Z",
        "turns": [{"role": "user", "content": SESSIONS[session_id]}],
    }


@pytest.fixture(scope="module")
def reader():
    with running_stack() as stack:
        with api_client(stack, make_token(stack, ["ingest"], source="planner", name="ingest")) as client:
            for session_id in SESSIONS:
                assert client.post("/sessions", json=body(session_id)).status_code == 202
        with api_client(stack, make_token(stack, ["read"], name="reader")) as client:
            wait_for_stack(
                stack, lambda: len(client.get("/search", params={"q": "scripted", "k": "10"}).json()["items"]) == 4
            )
            yield client


def found(reader, query: str) -> list[str]:
    answer = reader.get("/search", params={"q": query, "k": "10"})
    assert answer.status_code == 200, answer.text
    return [item["summary_id"] for item in answer.json()["items"]]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("田中", ["zh-budget", "ja-budget"]),
        ("预算", ["zh-budget"]),
        ("予算", ["ja-budget"]),
        ("งบประมาณ", ["th-budget"]),
        ("budget", ["en-budget"]),
    ],
)
def test_a_word_is_found_inside_text_written_without_spaces(reader, query, expected):
    assert sorted(found(reader, query)) == sorted(expected)


def test_similar_sessions_in_such_a_script_find_each_other(reader):
    similar = reader.get("/summaries/zh-budget/similar", params={"k": "3"}).json()["items"]
    assert similar and similar[0]["summary_id"] == "ja-budget"  # they share 田中
