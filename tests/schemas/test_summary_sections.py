"""The summarizer's section format on the edge: a system that names the sections it reads gets its empty document,
without running the model, when each of them says "None."; a definition where that would be wrong is refused."""

from __future__ import annotations

import json

import pytest

from functions.summarize.prompt import SYSTEM_PROMPT
from schemas.summary_format import SECTIONS, says_nothing, sections
from schemas.system_definition import SystemDefinition, SystemDefinitionError, default_systems_dir

EMPTY_PLANS = """Overview
The user talked about a novel in a synapse session on Friday 2025-10-03.

People
None.

Commitments
None.

Reminders:
None.

Insights
- The user prefers long novels.

Open questions
None."""


def _planner() -> dict:
    return json.loads((default_systems_dir() / "planner.json").read_text(encoding="utf-8"))


def test_the_summarizer_is_asked_for_exactly_these_sections_in_this_order():
    positions = [SYSTEM_PROMPT.index(f"\n{heading}: ") for heading in SECTIONS]
    assert positions == sorted(positions)
    assert 'Write "None." under a heading with nothing to report' in SYSTEM_PROMPT


def test_sections_are_read_by_their_headings_with_or_without_a_colon():
    found = sections(EMPTY_PLANS)
    assert list(found) == list(SECTIONS)
    assert found["Reminders"] == "None." and found["Insights"] == "- The user prefers long novels."
    assert says_nothing(EMPTY_PLANS, ["Commitments", "Reminders"])
    assert not says_nothing(EMPTY_PLANS, ["Commitments", "Insights"])


def test_a_summary_not_in_the_section_format_or_missing_a_section_is_not_known_to_be_empty():
    assert not says_nothing("The user promised to call Ana on Friday.", ["Commitments"])
    assert not says_nothing(EMPTY_PLANS.replace("Commitments\nNone.", ""), ["Commitments"])
    assert not says_nothing(EMPTY_PLANS, [])


def test_a_planner_reading_only_commitments_returns_its_empty_document_for_a_session_without_plans():
    planner = SystemDefinition.from_dict(_planner())
    assert planner.summary_sections == ("Commitments",)
    assert planner.reads_nothing(EMPTY_PLANS)
    assert planner.empty_document() == {"tasks": [], "events": []}
    assert planner.validation_errors(planner.empty_document()) == []
    assert not planner.reads_nothing(EMPTY_PLANS.replace("Commitments\nNone.", "Commitments\n- Call Ana on Friday."))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"summary_sections": ["Todos"]}, "summary_sections: 'Todos' is not a summary section"),
        ({"summary_sections": []}, "summary_sections"),
        (
            {"schema": _planner()["schema"] | {"required": ["tasks", "events", "owner"]}},
            "summary_sections: the empty document",
        ),
    ],
)
def test_a_section_list_that_cannot_work_is_refused_naming_it(change, expected):
    data = _planner() | change
    if "owner" in json.dumps(change):
        data["schema"]["properties"] = data["schema"]["properties"] | {"owner": {"type": "string"}}
        data["examples"] = [ex | {"expected": ex["expected"] | {"owner": "me"}} for ex in data["examples"]]
    with pytest.raises(SystemDefinitionError) as caught:
        SystemDefinition.from_dict(data, source="planner.json")
    assert expected in caught.value.problem


def test_a_labelled_example_the_gate_would_get_wrong_is_refused_naming_it():
    data = _planner()
    data["examples"][3] = {
        "summary": EMPTY_PLANS,
        "expected": {"tasks": [], "events": [{"title": "Book club", "start": "2025-10-09T19:00:00Z"}]},
    }
    with pytest.raises(SystemDefinitionError) as caught:
        SystemDefinition.from_dict(data, source="planner.json")
    assert "summary_sections: examples[3] says 'None.' under Commitments" in caught.value.problem


def _nudge() -> dict:
    return json.loads((default_systems_dir() / "nudge.json").read_text(encoding="utf-8"))


def test_each_list_may_name_its_own_sections_and_is_left_empty_alone():
    nudge = SystemDefinition.from_dict(_nudge())
    no_reminders = EMPTY_PLANS.replace(
        "Insights\n- The user prefers long novels.", "Insights\n- The user wants to run."
    )
    assert nudge.empty_lists(no_reminders) == ["reminders"] and not nudge.reads_nothing(no_reminders)
    narrowed = nudge.schema_for(no_reminders)
    assert narrowed["properties"]["reminders"]["maxItems"] == 0 and "maxItems" in nudge.schema["properties"]["habits"]
    assert narrowed["properties"]["habits"] == nudge.schema["properties"]["habits"]
    assert nudge.schema["properties"]["reminders"]["maxItems"] == 8  # the definition's schema is not changed
    nothing = EMPTY_PLANS.replace("Insights\n- The user prefers long novels.", "Insights\nNone.")
    assert nudge.empty_lists(nothing) == ["reminders", "habits"] and nudge.reads_nothing(nothing)
    unformatted = nudge.schema_for("The user will call Ana on Friday.")  # not in the section format: no list emptied
    assert [unformatted["properties"][name]["maxItems"] for name in ("reminders", "habits")] == [
        nudge.schema["properties"][name]["maxItems"] for name in ("reminders", "habits")
    ]
    assert SystemDefinition.from_dict(nudge.to_dict()).to_dict() == nudge.to_dict() == _nudge()


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        ({"reminders": ["Todos"]}, "summary_sections: 'Todos' is not a summary section"),
        ({"owner": ["Reminders"]}, "summary_sections: 'owner' is not a top-level list of the schema"),
        ({"reminders": []}, "summary_sections: 'reminders' names no section"),
        ({}, "summary_sections"),
        ({"habits": ["Commitments"]}, "says 'None.' under Commitments but expects habits"),
    ],
)
def test_a_section_map_that_cannot_work_is_refused_naming_it(sections, expected):
    data = _nudge() | {"summary_sections": sections}
    with pytest.raises(SystemDefinitionError) as caught:
        SystemDefinition.from_dict(data, source="nudge.json")
    assert expected in caught.value.problem


def test_a_list_that_must_hold_items_cannot_be_left_empty_by_its_sections():
    data = _nudge()
    data["schema"]["properties"]["habits"]["minItems"] = 1
    data["examples"] = [
        e | {"expected": e["expected"] | {"habits": [{"name": "Walk", "cadence": "daily"}]}} for e in data["examples"]
    ]
    with pytest.raises(SystemDefinitionError) as caught:
        SystemDefinition.from_dict(data, source="nudge.json")
    assert "'habits' has minItems" in caught.value.problem
