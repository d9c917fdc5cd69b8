from __future__ import annotations

import hashlib
import json
from copy import deepcopy
from datetime import datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from schemas.contracts import (
    ErrorBody,
    RefreshSelector,
    Session,
    SessionAccepted,
    SessionStatus,
    SummarizeRequest,
    SummaryRecord,
    TokenUsage,
    TranslateRequest,
    Turn,
)


def session_data(**changes) -> dict:
    data = {
        "session_id": "sess-2025.03.13:001",
        "source": "planner",
        "user_id": "user_42",
        "started_at": "2025-03-13T10:00:00+01:00",
        "ended_at": "2025-03-13T10:20:00+01:00",
        "turns": [
            {
                "role": "user",
                "content": "Remind me to call Ana tomorrow at 3pm.",
                "timestamp": "2025-03-13T10:00:00+01:00",
            },
            {"role": "assistant", "content": "Done: a reminder for Friday 15:00."},
        ],
        "metadata": {"client": {"version": "1.2", "platform": "ios"}, "locale": "en-GB"},
    }
    data.update(changes)
    return data


def error_types(excinfo: pytest.ExceptionInfo) -> set[str]:
    return {error["type"] for error in excinfo.value.errors()}


def test_valid_session_parses_with_aware_datetimes():
    session = Session.model_validate(session_data())
    assert session.turns[0].timestamp.utcoffset().total_seconds() == 3600
    assert session.turns[1].timestamp is None
    assert session.metadata["client"]["platform"] == "ios"


def test_unknown_session_fields_are_rejected():
    with pytest.raises(ValidationError) as excinfo:
        Session.model_validate(session_data(priority="high"))
    assert "extra_forbidden" in error_types(excinfo)


def test_unknown_turn_fields_are_kept_in_the_turn_metadata():
    data = session_data()
    data["turns"][0] |= {"mood": "happy", "metadata": {"app": "ios"}}
    turn = Session.model_validate(data).turns[0]
    assert turn.metadata == {"app": "ios", "mood": "happy"}
    data["turns"][0]["metadata"]["mood"] = "sad"
    with pytest.raises(ValidationError, match="mood"):
        Session.model_validate(data)


@pytest.mark.parametrize(
    "changes",
    [
        {"turns": "hello"},
        {"turns": [{"role": "user", "content": 5}]},
        {"turns": [{"role": "robot", "content": "hi"}]},
        {"turns": []},
        {"turns": [{"role": "user", "content": ""}]},
        {"turns": [{"role": "user", "content": "x" * 100_001}]},
        {"started_at": "2025-03-13T10:00:00"},
        {"started_at": "yesterday"},
        {"metadata": ["not", "a", "dict"]},
    ],
    ids=[
        "turns-str",
        "content-int",
        "bad-role",
        "no-turns",
        "empty-content",
        "content-too-long",
        "naive-datetime",
        "not-a-datetime",
        "metadata-list",
    ],
)
def test_wrong_types_and_values_are_rejected(changes):
    with pytest.raises(ValidationError):
        Session.model_validate(session_data(**changes))


@pytest.mark.parametrize("bad_id", ["", "-leading-dash", "has space", "slash/inside", "x" * 129, "ümlaut", "a#b"])
def test_bad_session_and_user_ids_are_rejected(bad_id):
    with pytest.raises(ValidationError) as excinfo:
        Session.model_validate(session_data(session_id=bad_id))
    assert "string_pattern_mismatch" in error_types(excinfo)
    with pytest.raises(ValidationError):
        Session.model_validate(session_data(user_id=bad_id))


@pytest.mark.parametrize("bad_source", ["Planner", "1planner", "plan_ner", "p" * 33, ""])
def test_bad_sources_are_rejected(bad_source):
    with pytest.raises(ValidationError):
        Session.model_validate(session_data(source=bad_source))


def test_longest_valid_id_is_accepted():
    assert Session.model_validate(session_data(session_id="a" * 128)).session_id == "a" * 128


def test_ended_before_started_is_rejected_with_both_times_named():
    with pytest.raises(ValidationError) as excinfo:
        Session.model_validate(session_data(ended_at="2025-03-13T09:59:59+01:00"))
    message = str(excinfo.value)
    assert "ended_at" in message and "started_at" in message


def test_ended_at_compares_instants_across_offsets():
    # 09:30Z is 10:30+01:00: after the start although the wall-clock hour is smaller.
    assert Session.model_validate(session_data(ended_at="2025-03-13T09:30:00Z"))


def test_content_hash_is_sha256_of_canonical_json():
    session = Session.model_validate(session_data())
    canonical = json.dumps(session.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert session.content_hash() == hashlib.sha256(canonical.encode()).hexdigest()


def test_content_hash_is_stable_under_key_order():
    data = session_data()
    reordered = {key: deepcopy(data[key]) for key in reversed(list(data))}
    reordered["metadata"] = {"locale": "en-GB", "client": {"platform": "ios", "version": "1.2"}}
    reordered["turns"] = [{key: turn[key] for key in reversed(list(turn))} for turn in data["turns"]]
    text_a = json.dumps(data)
    text_b = json.dumps(reordered)
    assert text_a != text_b
    assert Session.model_validate_json(text_a).content_hash() == Session.model_validate_json(text_b).content_hash()


def test_content_hash_changes_with_content():
    base = Session.model_validate(session_data()).content_hash()
    changed = session_data()
    changed["turns"][1]["content"] = "Done: a reminder for Friday 16:00."
    assert Session.model_validate(changed).content_hash() != base
    assert Session.model_validate(session_data(metadata={})).content_hash() != base


def test_turn_is_usable_alone():
    assert Turn(role="tool", content="42").timestamp is None
    assert Turn(role="tool", content="42", extra="x").metadata == {"extra": "x"}
    with pytest.raises(ValidationError):
        Turn(role="tool", content=None)


def summary_record(**changes) -> dict:
    data = {
        "session_id": "sess-1",
        "source": "nudge",
        "user_id": "u1",
        "status": "SUMMARIZED",
        "content_hash": "a" * 64,
        "received_at": "2025-03-13T10:21:00Z",
        "updated_at": "2025-03-13T10:21:09Z",
        "started_at": "2025-03-13T10:00:00Z",
        "received_day": "2025-03-13",
        "raw_key": "sessions/nudge/sess-1/aaaa.json",
        "turn_count": 4,
        "systems": {},
        "summary_key": "summaries/sess-1/aaaa.md",
        "summarizer_model_version": "summarizer-model:0123456789abcdef0123",
        "summarizer_prompt_version": "summarizer-prompt:0123456789abcdef0123",
        "usage": {"input_tokens": 1200, "output_tokens": 300, "cache_read_input_tokens": 900},
        "cost_usd": 0.0027,
        "latency_ms": 2400,
        "attempts": 1,
    }
    data.update(changes)
    return data


def test_summary_record_round_trips_through_json():
    record = SummaryRecord.model_validate(summary_record())
    assert record.status is SessionStatus.SUMMARIZED
    assert record.usage == TokenUsage(input_tokens=1200, output_tokens=300, cache_read_input_tokens=900)
    again = SummaryRecord.model_validate_json(record.model_dump_json())
    assert again == record
    assert json.loads(record.model_dump_json())["status"] == "SUMMARIZED"


RECEIVED_FIELDS = {
    "session_id",
    "source",
    "user_id",
    "status",
    "content_hash",
    "received_at",
    "received_day",
    "updated_at",
    "started_at",
    "raw_key",
    "turn_count",
    "attempts",
    "systems",
}


def test_received_record_needs_only_what_ingest_writes():
    minimal = {k: v for k, v in summary_record(status="RECEIVED", attempts=0).items() if k in RECEIVED_FIELDS}
    record = SummaryRecord.model_validate(minimal)
    assert record.summary_key is None and record.usage is None and record.attempts == 0
    for missing in RECEIVED_FIELDS:
        with pytest.raises(ValidationError):
            SummaryRecord.model_validate({k: v for k, v in minimal.items() if k != missing})


def test_summary_record_takes_dynamodb_numbers_and_system_states():
    state = {
        "version": Decimal("2"),
        "updated_at": "2025-03-13T10:30:00.123Z",
        "document_hash": "b" * 64,
        "translator_model_version": "translator-model:abc",
        "translator_prompt_version": "translator-prompt:def",
        "schema_version": "schema:0123",
    }
    record = SummaryRecord.model_validate(
        summary_record(cost_usd=Decimal("0.0027"), latency_ms=Decimal("2400"), systems={"planner": state})
    )
    assert record.systems["planner"].version == 2 and record.cost_usd == Decimal("0.0027")
    with pytest.raises(ValidationError):
        SummaryRecord.model_validate(summary_record(systems={"Planner": state}))
    with pytest.raises(ValidationError):
        SummaryRecord.model_validate(summary_record(systems={"planner": {**state, "version": 0}}))


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "DONE"},
        {"content_hash": "A" * 64},
        {"content_hash": "abc"},
        {"attempts": -1},
        {"usage": {"input_tokens": 1, "output_tokens": 1, "bogus": 1}},
        {"cost_usd": -0.5},
        {"table": "x"},
        {"received_at": "yesterday"},
        {"received_day": "2025-3-13"},
        {"batch_state": "DONE"},
        {"embedding_version": "schema:abc"},
    ],
    ids=[
        "status",
        "hash-upper",
        "hash-short",
        "attempts",
        "usage-extra",
        "negative-cost",
        "extra",
        "timestamp",
        "day",
        "batch-state",
        "embedding-version",
    ],
)
def test_summary_record_rejects_bad_values(changes):
    with pytest.raises(ValidationError):
        SummaryRecord.model_validate(summary_record(**changes))


def test_queue_messages():
    request = SummarizeRequest.model_validate_json(json.dumps({"session_id": "s-1", "content_hash": "0" * 64}))
    assert request.session_id == "s-1"
    with pytest.raises(ValidationError):
        SummarizeRequest.model_validate({"session_id": "s-1", "content_hash": "0" * 64, "retry": True})

    every = TranslateRequest(summary_id="s-1:abc", system=None, reason="new", request_id="r1")
    assert json.loads(every.model_dump_json())["system"] is None
    assert (
        TranslateRequest(summary_id="s-1", system="planner_v2", reason="refresh", request_id="r2").system
        == "planner_v2"
    )
    for bad in ({"reason": "because"}, {"system": "Planner"}, {"request_id": ""}, {"summary_id": "a b"}):
        with pytest.raises(ValidationError):
            TranslateRequest.model_validate({"summary_id": "s-1", "reason": "new", "request_id": "r", **bad})


def test_translate_request_accepts_exactly_the_system_definition_names():
    from schemas.patterns import SYSTEM_NAME_PATTERN
    from schemas.system_definition import NAME_PATTERN

    assert SYSTEM_NAME_PATTERN == NAME_PATTERN


def test_error_body_and_accepted_body():
    body = ErrorBody(error="invalid_json", message="Body is not valid JSON: Expecting value at line 1 column 1.")
    assert json.loads(body.model_dump_json()) == {"error": "invalid_json", "message": body.message, "details": None}
    with pytest.raises(ValidationError):
        ErrorBody(error="Invalid JSON", message="x")
    with pytest.raises(ValidationError):
        ErrorBody(error="invalid_json", message="")

    accepted = SessionAccepted(session_id="s-1", status=SessionStatus.RECEIVED, status_url="/sessions/s-1")
    assert json.loads(accepted.model_dump_json())["status"] == "RECEIVED"
    with pytest.raises(ValidationError):
        SessionAccepted(session_id="s-1", status="LOST", status_url="/sessions/s-1")


def test_model_dump_json_mode_keeps_offsets():
    session = Session.model_validate(session_data())
    dumped = session.model_dump(mode="json")
    assert datetime.fromisoformat(dumped["started_at"]).utcoffset().total_seconds() == 3600


@pytest.mark.parametrize(
    "selection",
    [
        {"translator_model_version": "translator-model:a", "schema_version": "schema:b"},
        {"schema_version": "schema:b", "summary_id": "s-1"},
        {"task": "embed", "system": "planner"},
        {"task": "embed", "translator_prompt_version": "translator-prompt:c"},
    ],
)
def test_refresh_selections_that_mix_kinds_are_refused(selection):
    with pytest.raises(ValidationError):
        RefreshSelector.model_validate(selection)


def test_a_refresh_selection_names_at_most_one_version():
    assert RefreshSelector(schema_version="schema:b").version_selector() == ("schema_version", "schema:b")
    assert RefreshSelector(summary_id="s-1", system="planner").version_selector() is None


@pytest.mark.parametrize(
    "changes",
    [
        {"started_at": 1796270000},
        {"ended_at": "1796270000"},
        {"turns": [{"role": "user", "content": "hi", "timestamp": "123"}]},
        {"turns": [{"role": "user", "content": "hi", "timestamp": 1}]},
    ],
    ids=["epoch-int", "epoch-text", "timestamp-digits", "timestamp-int"],
)
def test_times_must_be_iso_text_rather_than_numbers_read_as_unix_times(changes):
    with pytest.raises(ValidationError) as caught:
        Session.model_validate_json(json.dumps(session_data(**changes)))
    assert "must be an ISO 8601 date-time" in str(caught.value)


@pytest.mark.parametrize("force", ["yes", "true", 1, "1"])
def test_force_is_a_json_boolean_only(force):
    with pytest.raises(ValidationError):
        RefreshSelector.model_validate_json(json.dumps({"summary_id": "s-1", "force": force}))
    assert RefreshSelector.model_validate_json('{"summary_id": "s-1", "force": true}').force is True
