"""Reads over fakes: filters, pages, one summary with its records, registry kinds and usage totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cloud_fakes import ApiWorld, add_summarized, make_session, system_definition
from test_api_edge_sync import upload

from functions.errors import ClientError
from schemas.contracts import TokenUsage

TODAY = datetime.now(UTC).date()


@pytest.fixture
def world() -> ApiWorld:
    world = ApiWorld()
    add_summarized(world.sessions, "s-1")
    add_summarized(world.sessions, "s-2", source="nudge")
    received = make_session("s-3")
    world.sessions.create(received, received.content_hash(), "sessions/s-3/x.json")
    return world


def ids(answer: dict) -> list[str]:
    return [item["session_id"] for item in answer["items"]]


def test_summaries_are_listed_by_status_source_user_and_their_own_dates_newest_first(world):
    late = make_session("s-4", started_at="2026-11-24T23:30:00-08:00", user_id="user-2")  # 11-25 in UTC
    world.sessions.create(late, late.content_hash(), "sessions/s-4/x.json")
    assert ids(world.reads.list_summaries({}, 10, None)) == ["s-4", "s-3", "s-2", "s-1"]
    assert ids(world.reads.list_summaries({"status": "SUMMARIZED"}, 10, None)) == ["s-2", "s-1"]
    assert ids(world.reads.list_summaries({"source": "nudge"}, 10, None)) == ["s-2"]
    assert ids(world.reads.list_summaries({"status": "SUMMARIZED", "source": "planner"}, 10, None)) == ["s-1"]
    assert ids(world.reads.list_summaries({"user": "user-2"}, 10, None)) == ["s-4"]
    assert ids(world.reads.list_summaries({"from": "2026-11-25"}, 10, None)) == []
    assert ids(world.reads.list_summaries({"from": "2026-11-24", "to": "2026-11-24"}, 10, None)) == [
        "s-4",
        "s-3",
        "s-2",
        "s-1",
    ]
    assert ids(world.reads.list_summaries({"status": "RECEIVED", "to": "2026-11-24"}, 10, None)) == ["s-4", "s-3"]
    assert ids(world.reads.list_summaries({"status": "RECEIVED", "to": "2026-11-23"}, 10, None)) == []
    assert world.reads.list_summaries({"user": "user-2"}, 10, None)["items"][0]["session_day"] == "2026-11-24"


def test_listing_pages_carry_a_next_token(world):
    first = world.reads.list_summaries({}, 2, None)
    rest = world.reads.list_summaries({}, 2, first["next"])
    assert ids(first) + ids(rest) == ["s-3", "s-2", "s-1"] and rest["next"] is None
    view = first["items"][0]
    assert view["links"] == {
        "self": "/sessions/s-3",
        "summary": "/summaries/s-3",
        "retry": "/sessions/s-3/retry",
        "conversation": "/summaries/s-3/conversation",
    }
    assert "raw_key" not in view and "received_day" not in view


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"status": "DONE"}, "invalid_status"),
        ({"user": "not an id"}, "invalid_filter"),
        ({"from": "2026-11-25", "to": "2026-11-24"}, "invalid_range"),
        ({"from": "25 November"}, "invalid_date"),
    ],
)
def test_bad_filters_are_named(world, params, code):
    with pytest.raises(ClientError) as error:
        world.reads.list_summaries(params, 10, None)
    assert (error.value.status, error.value.code) == (400, code)


def test_one_summary_has_its_text_and_records(world):
    world.edge.publish_system("planner", system_definition())
    world.edge.put_record("s-1", "planner", upload({"title": "Dentist"}))
    summary = world.reads.summary("s-1")
    assert summary["text"].startswith("Overview")
    assert [(r["system"], r["version"], r["document"]) for r in summary["records"]] == [
        ("planner", 1, {"title": "Dentist"})
    ]
    assert world.reads.summary("s-3")["text"] is None
    with pytest.raises(ClientError) as error:
        world.reads.summary("s-none")
    assert error.value.status == 404


def test_history_systems_and_records_of_a_system(world):
    world.edge.publish_system("planner", system_definition())
    world.edge.put_record("s-1", "planner", upload({"title": "A"}))
    world.edge.put_record("s-1", "planner", upload({"title": "B"}, expected_version=1))
    history = world.reads.history("s-1", "planner", 1, None)
    assert history["items"][0]["version"] == 2 and history["items"][0]["patch"][0]["op"] == "replace"
    assert world.reads.history("s-1", "planner", 1, history["next"])["items"][0]["version"] == 1
    assert [s["name"] for s in world.reads.systems()["items"]] == ["planner"]
    assert [r["document"] for r in world.reads.system_records("planner", 10, None)["items"]] == [{"title": "B"}]


def test_a_system_never_published_is_named_rather_than_listed_as_empty(world):
    world.edge.publish_system("planner", system_definition())
    reads = (
        lambda: world.reads.system_records("fitness", 10, None),
        lambda: world.reads.system_changes("fitness", "0", 10),
        lambda: world.reads.history("s-1", "fitness", 10, None),
    )
    for read in reads:
        with pytest.raises(ClientError) as error:
            read()
        assert (error.value.status, error.value.code) == (404, "unknown_system")
        assert error.value.message.startswith("system fitness has not been published")
    assert world.reads.system_records("planner", 10, None)["items"] == []


def test_registry_entries_are_listed_by_a_known_kind(world):
    world.edge.publish_system("planner", system_definition())
    assert [e["kind"] for e in world.reads.registry_entries("schema", 10, None)["items"]] == ["schema"]
    assert world.reads.registry_entries("eval-result", 10, None)["items"] == []
    with pytest.raises(ClientError) as error:
        world.reads.registry_entries("active-system", 10, None)
    assert error.value.code == "invalid_kind" and error.value.message.endswith("; got 'active-system'")
    with pytest.raises(ClientError) as error:
        world.reads.registry_entries(None, 10, None)
    assert error.value.message.startswith("the query parameter kind must be one of summarizer-model, ")
    assert error.value.message.endswith("; none was given")


def test_usage_totals_per_day_and_model(world):
    day = TODAY.isoformat()
    world.usage.add(day, "claude-haiku-4-5", TokenUsage(input_tokens=100, output_tokens=10), 0.25)
    world.usage.add(day, "claude-haiku-4-5", TokenUsage(input_tokens=50, output_tokens=5), 0.25)
    world.usage.add(day, "local-scripted", TokenUsage(input_tokens=1, output_tokens=1), 0.0)
    world.usage.add(day, "claude-mystery-9", TokenUsage(input_tokens=2, output_tokens=2), None)  # no price known
    totals = world.reads.usage_totals({})
    assert len(totals["days"]) == 30 and totals["to"] == day
    assert totals["days"][-1] == {
        "day": day,
        "calls": 4,
        "unpriced_calls": 1,
        "cost_usd": 0.5,  # what is known; the unpriced call's cost is not in it
        "input_tokens": 153,
        "output_tokens": 18,
    }
    models = {m["model_id"]: m for m in totals["models"]}
    assert (models["claude-haiku-4-5"]["calls"], models["claude-haiku-4-5"]["cost_usd"]) == (2, 0.5)
    assert (models["claude-mystery-9"]["unpriced_calls"], models["claude-mystery-9"]["cost_usd"]) == (1, None)
    assert totals["days"][0]["cost_usd"] == 0  # a day without calls costs nothing
    for params in ({"from": day, "to": (TODAY - timedelta(days=1)).isoformat()}, {"from": "2020-01-01", "to": day}):
        with pytest.raises(ClientError) as error:
            world.reads.usage_totals(params)
        assert error.value.code == "invalid_range"


@pytest.mark.parametrize("to", ["0001-01-01", "0001-01-29", "0001-01-30"])
def test_usage_up_to_the_first_days_of_the_calendar_starts_at_its_first_day(world, to):
    totals = world.reads.usage_totals({"to": to})
    assert totals["from"] == max("0001-01-01", to[:-2] + f"{int(to[-2:]) - 29:02d}") and totals["to"] == to
    assert [day["calls"] for day in totals["days"]] == [0] * len(totals["days"])
