"""Dates grounded in the summary: the narrowed schema admits only the summary's dates, and a definition whose own
examples expect another date is refused."""

from __future__ import annotations

import json
import re

import pytest
from jsonschema import Draft202012Validator

from schemas.date_grounding import grounded, needs_date, summary_dates, summary_offsets, summary_times
from schemas.system_definition import SystemDefinition, SystemDefinitionError, default_systems_dir, output_validator

SUMMARY = "Overview\nA session on Monday 2025-03-17 (+01:00); the call is on 2025-03-21 at 18:00, not 2025-02-30."


def _planner() -> dict:
    return json.loads((default_systems_dir() / "planner.json").read_text(encoding="utf-8"))


def test_summary_dates_and_offsets_are_the_ones_written_in_order_once_each():
    assert summary_dates(SUMMARY + " Again 2025-03-17; id 12025-03-170.") == ["2025-03-17", "2025-03-21"]
    assert summary_dates("Next Tuesday, no date written.") == []
    assert summary_offsets(SUMMARY + " Then (-05:00) and (+01:00) again.") == ["+01:00", "-05:00"]
    assert summary_offsets("From 10:00 to 11:00, no offset.") == ["Z"]


TASK = {"title": "Book the dentist", "priority": "medium", "status": "todo"}


def test_dates_and_date_times_are_narrowed_to_the_summarys_dates_and_stay_valid_against_the_original():
    planner = SystemDefinition.from_dict(_planner())
    narrowed = grounded(planner.schema, SUMMARY)
    task = narrowed["properties"]["tasks"]["items"]["properties"]
    assert task["due"]["anyOf"][0] == {"type": "string", "enum": ["2025-03-17", "2025-03-21"]}
    check = Draft202012Validator(narrowed, format_checker=Draft202012Validator.FORMAT_CHECKER)
    event = {"title": "Call", "start": "2025-03-21T18:00:00+01:00"}
    assert check.is_valid({"tasks": [], "events": [event]})
    assert not check.is_valid({"tasks": [], "events": [{**event, "start": "2025-03-22T18:00:00+01:00"}]})
    assert not check.is_valid({"tasks": [], "events": [{**event, "start": "2025-03-21T18:00:00+05:30"}]})
    assert not check.is_valid({"tasks": [], "events": [{**event, "start": "2025-03-21T18:00:00Z"}]})
    no_offset = grounded(planner.schema, "Overview\nA session on 2025-03-17; the call is at 18:00 on 2025-03-21.")
    start = no_offset["properties"]["events"]["items"]["properties"]["start"]
    assert Draft202012Validator(start).is_valid("2025-03-21T18:00:00Z")
    assert not Draft202012Validator(start).is_valid("2025-03-21T18:00:00+01:00")
    assert not check.is_valid(
        {"tasks": [{"title": "x", "due": "2025-03-18", "priority": "low", "status": "todo"}], "events": []}
    )
    assert planner.validation_errors({"tasks": [], "events": [event]}) == []
    undated = grounded(planner.schema, "No dates here.")  # any date the model wrote would be invented
    assert Draft202012Validator(undated).is_valid({"tasks": [{**TASK, "due": None}], "events": []})
    assert not Draft202012Validator(undated).is_valid({"tasks": [{**TASK, "due": "2025-09-11"}], "events": []})
    assert not Draft202012Validator(undated).is_valid({"tasks": [], "events": [event]})  # its start needs a date
    dated_root = {"type": "object", "properties": {"day": {"type": "string", "format": "date"}}, "required": ["day"]}
    assert grounded(dated_root, "No dates here.") is dated_root  # a document that must hold a date is left free
    assert "format" in planner.schema["properties"]["events"]["items"]["properties"]["start"]  # left as it was


def test_a_labelled_example_with_a_date_its_summary_does_not_write_is_refused_naming_it():
    data = _planner()
    index = next(i for i, e in enumerate(data["examples"]) if any(t.get("due") for t in e["expected"]["tasks"]))
    task = next(t for t in data["examples"][index]["expected"]["tasks"] if t.get("due"))
    task["due"] = "2099-01-01"
    with pytest.raises(SystemDefinitionError) as caught:
        SystemDefinition.from_dict(data, source="planner.json")
    assert f"grounded_dates: examples[{index}] expects '2099-01-01'" in caught.value.problem
    SystemDefinition.from_dict(data | {"grounded_dates": False})  # without grounding the date may be any


@pytest.mark.parametrize(
    ("text", "offsets"),
    [
        ("A session from 10:00 to 10:40 (+01:00).", ["+01:00"]),
        ("started_at 2025-03-14T15:00:00-05:00", ["-05:00"]),
        ("at 15:00+09:00 and GMT-03:00", ["+09:00", "-03:00"]),
        ("a slot 10:00-11:00, no offset", ["Z"]),
    ],
)
def test_offsets_are_read_where_the_summary_writes_them_and_not_from_time_ranges(text, offsets):
    assert summary_offsets(text) == offsets


def test_a_date_field_shaped_otherwise_is_left_as_defined_so_it_stays_satisfiable():
    schema = {
        "type": "object",
        "properties": {
            "maybe": {"type": ["string", "null"], "format": "date"},
            "short": {"type": "string", "format": "date-time", "maxLength": 20},
            "fixed": {"type": "string", "format": "date", "const": "2025-01-01"},
            "data": {"enum": [{"format": "date"}]},
            "day": {"type": "string", "format": "date"},
        },
    }
    narrowed = grounded(schema, "On 2025-03-14 (+01:00).")
    assert {name: narrowed["properties"][name] for name in ("maybe", "short", "fixed", "data")} == {
        name: schema["properties"][name] for name in ("maybe", "short", "fixed", "data")
    }
    assert narrowed["properties"]["day"] == {"type": "string", "enum": ["2025-03-14"]}


def test_times_are_read_as_written_and_not_from_utc_offsets():
    text = "Tuesday 2025-06-17 from 15:00 to 16:00 (+01:00), 9:30, 24:00, 10:00-11:00 and 15:00+01:00"
    assert summary_times(text) == ["15:00", "16:00", "10:00", "11:00"]


def test_a_bullet_read_alone_grounds_on_its_own_dates_and_times():
    schema = {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}}
    summary = "Overview\nSession on Monday 2025-03-17 (+01:00).\n\nReminders\n- Call Ana on 2025-03-21 at 18:00."
    narrowed = grounded(schema, summary, "Call Ana on 2025-03-21 at 18:00.")
    pattern = re.compile(narrowed["properties"]["at"]["pattern"])
    assert pattern.fullmatch("2025-03-21T18:00:00+01:00")
    assert not pattern.fullmatch("2025-03-21T09:00:00+01:00") and not pattern.fullmatch("2025-03-17T18:00:00+01:00")
    timed = re.compile(grounded(schema, summary, "Call Ana on 2025-03-21.")["properties"]["at"]["pattern"])
    assert timed.fullmatch("2025-03-21T09:00:00+01:00")  # no time of its own: any time
    undated = grounded(schema, summary, "Call Ana every day at 18:00.")
    assert undated["properties"]["at"] is False  # no date of its own: none (the summarizer writes each it resolves)
    trigger = {
        "type": "object",
        "required": ["trigger"],
        "properties": {
            "trigger": {
                "anyOf": [
                    {
                        "type": "object",
                        "required": ["at"],
                        "properties": {"at": {"type": "string", "format": "date-time"}},
                    },
                    {"type": "object", "required": ["every"], "properties": {"every": {"enum": ["daily"]}}},
                ]
            },
            "due": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
        },
    }
    validator = output_validator(grounded(trigger, summary, "Call Ana every day at 18:00."))
    assert validator.is_valid({"trigger": {"every": "daily"}, "due": None})
    assert not validator.is_valid({"trigger": {"at": "2025-03-17T18:00:00+01:00"}})
    assert not validator.is_valid({"trigger": {"every": "daily"}, "due": "2025-03-17"})
    # a summary with no date at all grounds as a bullet without one: no date can be written
    assert grounded(trigger, "Overview\nNo date.", "Call Ana.") == grounded(trigger, summary, "Call Ana every day.")


def test_needs_date_follows_required_properties_branches_items_and_refs():
    moment = {"type": "string", "format": "date-time"}
    root = {"$defs": {"moment": moment}}
    assert needs_date(root, {"type": "object", "required": ["at"], "properties": {"at": {"$ref": "#/$defs/moment"}}})
    assert not needs_date(root, {"type": "object", "properties": {"at": moment}})  # not required
    assert not needs_date(root, {"anyOf": [moment, {"type": "null"}]}) and needs_date(root, {"anyOf": [moment, moment]})
    assert needs_date(root, {"type": "array", "minItems": 1, "items": moment})
    assert not needs_date(root, {"type": "array", "items": moment})
    assert not needs_date(root, moment | {"pattern": "^2025"})  # shaped otherwise: left as defined
    assert not needs_date(root, {"type": "string", "format": "date"}, ("date-time",))
    tree = {
        "$defs": {"node": {"type": "object", "required": ["child"], "properties": {"child": {"$ref": "#/$defs/node"}}}}
    }
    assert not needs_date(tree, tree["$defs"]["node"])  # a reference cycle ends
