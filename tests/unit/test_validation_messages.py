"""A refused body's message names the field as the client wrote it, in words, without pydantic's own names; a long
value the client sent is quoted by its start and length."""

from __future__ import annotations

import base64
import gzip

import pytest
from cloud_fakes import ApiWorld

from functions.api.assets import serve
from functions.errors import ClientError
from functions.http.request_body import json_body, parse_contract
from functions.http.routing import checked_path_parameter
from functions.http.validation import clipped, shown
from functions.search.service import parse_filters, parse_k, parse_user
from functions.stores.dynamo import dynamo_number
from schemas.contracts import Session

BASE = {
    "session_id": "s-1",
    "source": "planner",
    "user_id": "u-1",
    "started_at": "2026-11-24T09:00:00Z",
    "ended_at": "2026-11-24T09:10:00Z",
    "turns": [{"role": "user", "content": "Book the dentist"}],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"turns": [{"role": "user", "content": ""}]},
            "turns.0: content is empty (it may be empty only in a message that calls tools or a tool's result)",
        ),
        (
            {"turns": [{"role": "user", "content": "x" * 100_001}]},
            "turns.0.content: String should have at most 100000 characters",
        ),
        (
            {"ended_at": "2026-11-24T08:00:00Z"},
            "(body): ended_at (2026-11-24T08:00:00+00:00) is before started_at (2026-11-24T09:00:00+00:00)",
        ),
    ],
)
def test_the_first_problem_reads_as_written(change, message):
    with pytest.raises(ClientError) as refused:
        parse_contract(Session, {**BASE, **change})
    assert str(refused.value.message) == message
    assert all("[" not in d["field"] and "-" not in d["field"] for d in refused.value.details)


HUGE = "x" * 100_000


def test_a_value_is_shown_whole_or_by_its_start_and_length():
    assert shown("Dentist") == "'Dentist'" and shown([1, 2]) == "[1, 2]"
    assert shown("d" * 81) == f"'{'d' * 80}'… (81 characters)"
    assert shown(["d" * 100]) == f"['{'d' * 78}… (104 characters)"
    assert clipped("abc", 2) == "ab… (3 characters)" and clipped("ab", 2) == "ab"


@pytest.mark.parametrize(
    "refuse",
    [
        lambda world: world.reads.list_summaries({"status": HUGE}, 10, None),
        lambda world: world.reads.list_summaries({"from": HUGE}, 10, None),
        lambda world: world.reads.list_summaries({"user": HUGE}, 10, None),
        lambda world: world.reads.system_changes("planner", HUGE, 10),
        lambda world: world.reads.registry_entries(HUGE, 10, None),
        lambda world: parse_k(HUGE),
        lambda world: parse_filters({"from": HUGE}),
        lambda world: parse_user({"user": HUGE}),
        lambda world: serve(HUGE),
        lambda world: checked_path_parameter("summary_id", HUGE),
        lambda world: dynamo_number(10**4000),
    ],
)
def test_a_refused_query_or_path_value_is_shown_by_its_start_and_length(refuse):
    with pytest.raises(ClientError) as refused:
        refuse(ApiWorld())
    assert len(refused.value.message) < 400 and "characters)" in refused.value.message, refused.value.message[:400]


def test_a_compressed_body_is_refused_naming_its_content_encoding():
    event = {
        "headers": {"content-type": "application/json", "content-encoding": "gzip"},
        "body": base64.b64encode(gzip.compress(b'{"a": 1}')).decode(),
        "isBase64Encoded": True,
    }
    with pytest.raises(ClientError) as refused:
        json_body(event, 1024)
    assert (refused.value.status, refused.value.code) == (415, "unsupported_media_type")
    assert "content-encoding 'gzip'" in refused.value.message
    event["headers"]["content-encoding"] = "identity"
    event["body"], event["isBase64Encoded"] = '{"a": 1}', False
    assert json_body(event, 1024) == {"a": 1}
