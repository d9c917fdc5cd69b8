"""What a request needs translated, given what the cloud already stored."""

from __future__ import annotations

from edge_worker.jobs import is_current, lineage_for, systems_to_translate
from edge_worker.prompting import prompt_version
from schemas.system_definition import load_systems

SYSTEMS = load_systems().systems
PLANNER, NUDGE = SYSTEMS["planner"], SYSTEMS["nudge"]


def test_lineage_names_model_prompt_and_schema():
    assert lineage_for(PLANNER, "translator-model:m1") == {
        "translator_model_version": "translator-model:m1",
        "translator_prompt_version": prompt_version(PLANNER),
        "schema_version": PLANNER.schema_version,
    }


def test_a_record_is_current_only_if_made_by_this_model_prompt_and_schema():
    lineage = lineage_for(PLANNER, "translator-model:m1")
    assert is_current({"version": 2, **lineage}, lineage)
    assert not is_current({"version": 2, **lineage, "schema_version": "schema:older"}, lineage)
    assert not is_current(None, lineage) and not is_current({}, lineage)


def test_missing_or_outdated_systems_are_translated_and_a_refresh_redoes_all():
    stored = {"planner": {"version": 1, **lineage_for(PLANNER, "translator-model:m1")}}
    assert systems_to_translate([PLANNER, NUDGE], stored, "translator-model:m1", force=False) == [NUDGE]
    assert systems_to_translate([PLANNER, NUDGE], stored, "translator-model:m2", force=False) == [PLANNER, NUDGE]
    assert systems_to_translate([PLANNER], stored, "translator-model:m1", force=True) == [PLANNER]
