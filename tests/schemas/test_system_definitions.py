"""System definitions: the shipped files load and validate; broken files are reported by name."""

from __future__ import annotations

import datetime
import json
import re
import shutil
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest
import regress
from llguidance import LLMatcher

from schemas.lineage import content_version
from schemas.summary_format import SECTIONS
from schemas.system_definition import (
    SystemDefinition,
    SystemDefinitionError,
    check_llguidance_grammar,
    default_systems_dir,
    ecma_regex,
    grammar_problems,
    load_system,
    load_systems,
    output_validator,
)

SHIPPED = ("nudge", "planner", "synapse")
SPLIT_MINIMUMS = {"prompt": 4, "train": 16, "eval": 20}
HEADINGS = SECTIONS
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# A date or date-time as the planner and nudge schemas write them.
WHEN = re.compile(r"(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}):\d{2}([+-]\d{2}:\d{2}|Z))?")


@pytest.fixture()
def systems_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "systems"
    shutil.copytree(default_systems_dir(), folder)
    return folder


def _planner_data() -> dict:
    return json.loads((default_systems_dir() / "planner.json").read_text(encoding="utf-8"))


def test_shipped_definitions_load_without_errors():
    loaded = load_systems()
    assert loaded.errors == []
    assert sorted(loaded.systems) == list(SHIPPED)
    for name, definition in loaded.systems.items():
        assert definition.name == name
        assert definition.instructions.strip() and definition.description.strip()
        assert 0 < definition.max_output_tokens <= 2048


def test_versions_are_content_addressed():
    planner = load_system(default_systems_dir() / "planner.json")
    assert planner.schema_version == content_version("schema", planner.schema)
    assert planner.definition_version.startswith("system:")
    changed = SystemDefinition.from_dict({**planner.to_dict(), "instructions": "Other words."})
    assert changed.schema_version == planner.schema_version
    assert changed.definition_version != planner.definition_version
    assert SystemDefinition.from_dict(planner.to_dict()).definition_version == planner.definition_version


def _unbounded(schema: dict, at: str = "") -> list[str]:
    problems = []
    kind = schema.get("type")
    if kind == "object" and schema.get("additionalProperties") is not False:
        problems.append(f"{at or '/'}: object without additionalProperties false")
    if kind == "array" and "maxItems" not in schema:
        problems.append(f"{at}: array without maxItems")
    if kind == "string" and not ({"maxLength", "enum", "format", "pattern"} & schema.keys()):
        problems.append(f"{at}: string without maxLength")
    for key, sub in schema.get("properties", {}).items():
        problems += _unbounded(sub, f"{at}/{key}")
    if isinstance(schema.get("items"), dict):
        problems += _unbounded(schema["items"], f"{at}/items")
    for index, sub in enumerate(schema.get("anyOf", [])):
        problems += _unbounded(sub, f"{at}/anyOf/{index}")
    return problems


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_schemas_keep_outputs_bounded(name):
    assert _unbounded(load_systems().systems[name].schema) == []


def test_bound_check_itself_finds_an_unbounded_schema():
    assert _unbounded({"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string"}}}}) == [
        "/: object without additionalProperties false",
        "/a: array without maxItems",
        "/a/items: string without maxLength",
    ]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_schemas_compile_in_llguidance(name):
    definition = load_systems().systems[name]
    grammar = LLMatcher.grammar_from_json_schema(definition.schema)
    is_error, messages = LLMatcher.validate_grammar_with_warnings(grammar)
    assert (is_error, messages) == (False, [])
    check_llguidance_grammar(definition)


def test_examples_are_checked_with_formats():
    data = _planner_data()
    data["examples"][1]["expected"]["events"][0]["start"] = "2025-06-10T08:30:00"  # no offset
    with pytest.raises(SystemDefinitionError) as caught:
        SystemDefinition.from_dict(data, source="planner.json")
    assert "examples[1].expected" in str(caught.value) and "date-time" in str(caught.value)


def test_validation_errors_describe_each_problem():
    planner = load_systems().systems["planner"]
    assert planner.validation_errors({"tasks": [], "events": []}) == []
    problems = planner.validation_errors(
        {"tasks": [{"title": "x", "due": "tomorrow", "priority": "urgent", "status": "todo"}], "events": []}
    )
    assert any("tasks/0/priority" in problem for problem in problems)
    assert any("tasks/0/due" in problem for problem in problems)


def test_broken_files_are_reported_by_name_and_the_others_still_load(systems_copy: Path):
    (systems_copy / "badjson.json").write_text('{"name": "badjson", ', encoding="utf-8")
    bad_schema = {**_planner_data(), "name": "badschema", "schema": {"type": "objekt"}, "examples": []}
    (systems_copy / "badschema.json").write_text(json.dumps(bad_schema), encoding="utf-8")
    failing = _planner_data() | {"name": "failing"}
    failing["examples"] = [{"summary": "s", "expected": {"tasks": "none", "events": []}}]
    (systems_copy / "failing.json").write_text(json.dumps(failing), encoding="utf-8")
    (systems_copy / "renamed.json").write_text(json.dumps(_planner_data()), encoding="utf-8")
    nan = _planner_data() | {"name": "nan"}
    nan["schema"]["x-weight"] = float("nan")  # Python writes it as NaN, which is not JSON
    (systems_copy / "nan.json").write_text(json.dumps(nan), encoding="utf-8")

    loaded = load_systems(systems_copy)

    assert sorted(loaded.systems) == list(SHIPPED)
    problems = {error.path.name: error.problem for error in loaded.errors}
    assert sorted(problems) == ["badjson.json", "badschema.json", "failing.json", "nan.json", "renamed.json"]
    assert problems["nan.json"] == "invalid JSON: NaN is not a JSON number"
    assert "invalid JSON: " in problems["badjson.json"] and "at line 1" in problems["badjson.json"]
    assert "not valid JSON Schema" in problems["badschema.json"]
    assert "examples[0].expected does not match the schema" in problems["failing.json"]
    assert "'planner' does not match the file name 'renamed'" in problems["renamed.json"]
    for error in loaded.errors:
        assert str(error).startswith(str(error.path)) and error.problem in str(error)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
        ({"output_schema": {"type": "object"}}, "output_schema: Extra inputs are not permitted"),
        ({"max_output_tokens": "600"}, "max_output_tokens"),
        ({"max_output_tokens": 10**6}, "max_output_tokens"),
        ({"name": "Planner!"}, "name"),
        ({"examples": [{"summary": "s"}]}, "examples.0.expected"),
        ({"schema": {"type": "string"}, "examples": []}, 'schema must say "type": "object" at its root'),
        ({"schema": {"properties": {}}, "examples": []}, "not null"),
    ],
)
def test_structure_problems_are_named(change, expected):
    with pytest.raises(SystemDefinitionError) as caught:
        SystemDefinition.from_dict(_planner_data() | change, source="x.json")
    assert expected in caught.value.problem


def test_a_top_level_array_is_rejected(tmp_path: Path):
    path = tmp_path / "list.json"
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(SystemDefinitionError, match="expected a JSON object"):
        load_system(path)


def test_a_missing_folder_is_reported(tmp_path: Path):
    loaded = load_systems(tmp_path / "nowhere")
    assert loaded.systems == {} and "does not exist" in loaded.errors[0].problem


def test_checks_reject_schemas_llguidance_cannot_compile(systems_copy: Path):
    odd = _planner_data() | {"name": "odd", "examples": [], "key_fields": {}}  # its arrays are gone
    del odd["summary_sections"], odd["item_per_bullet"], odd["skip_bullets"]  # they named its arrays
    odd["schema"] = {"type": "object", "properties": {"a": {"type": "string", "pattern": "^[^]$"}}}
    (systems_copy / "odd.json").write_text(json.dumps(odd), encoding="utf-8")
    assert "odd" in load_systems(systems_copy).systems  # beyond what the shared check looks at
    loaded = load_systems(systems_copy, checks=[check_llguidance_grammar])
    assert sorted(loaded.systems) == list(SHIPPED)
    assert [error.path.name for error in loaded.errors] == ["odd.json"]
    assert "llguidance" in loaded.errors[0].problem and "regex" in loaded.errors[0].problem


# One sub-schema per feature, with whether constrained decoding (llguidance) can enforce it.
GRAMMAR_FEATURES = {
    "uniqueItems": ({"type": "array", "items": {"type": "string"}, "uniqueItems": True}, False),
    "contains": ({"type": "array", "contains": {"type": "string"}, "minContains": 2}, False),
    "propertyNames": ({"type": "object", "propertyNames": {"pattern": "^a"}}, False),
    "dependentRequired": ({"type": "object", "dependentRequired": {"a": ["b"]}}, False),
    "dependentSchemas": ({"type": "object", "dependentSchemas": {"a": {"required": ["b"]}}}, False),
    "if/then/else": ({"if": {"type": "string"}, "then": {"minLength": 1}, "else": {}}, False),
    "not": ({"not": {"type": "string"}}, False),
    "unevaluatedProperties": ({"type": "object", "unevaluatedProperties": False}, False),
    "unevaluatedItems": ({"type": "array", "unevaluatedItems": False}, False),
    "$dynamicRef": ({"$dynamicRef": "#node"}, False),
    "format regex": ({"type": "string", "format": "regex"}, False),
    "format color": ({"type": "string", "format": "color"}, False),
    "format uri-reference": ({"type": "string", "format": "uri-reference"}, False),
    "lookahead": ({"type": "string", "pattern": "^(?=a)a+$"}, False),
    "lookbehind": ({"type": "string", "pattern": "^a(?<!b)$"}, False),
    "backreference": ({"type": "string", "pattern": "^(a)\\1$"}, False),
    "word boundary": ({"type": "string", "pattern": "^\\bword\\b$"}, False),
    "deep inside anyOf": ({"anyOf": [{"type": "null"}, {"type": "array", "uniqueItems": True}]}, False),
    "multipleOf": ({"type": "number", "multipleOf": 0.05, "minimum": 0, "maximum": 1}, True),
    "formats": (
        {"anyOf": [{"type": "string", "format": f} for f in ("date-time", "date", "time", "email", "uri")]},
        True,
    ),
    "patternProperties": ({"type": "object", "patternProperties": {"^a": {"type": "string"}}}, True),
    "minProperties": ({"type": "object", "minProperties": 1, "maxProperties": 3}, True),
    "oneOf and allOf": ({"oneOf": [{"type": "string"}, {"allOf": [{"type": "integer"}, {"minimum": 1}]}]}, True),
    "a property named not": ({"type": "object", "properties": {"not": {"type": "string"}, "if": {"const": 1}}}, True),
    "annotations": ({"type": "string", "title": "t", "default": "x", "examples": ["y"], "x-ui": "wide"}, True),
    "pattern": ({"type": "string", "pattern": "^[a-z]+(?:-[a-z]+)*$"}, True),
}


def _wrapped(sub: dict) -> dict:
    return {"type": "object", "properties": {"field": sub}, "required": ["field"], "additionalProperties": False}


@pytest.mark.parametrize("feature", sorted(GRAMMAR_FEATURES))
def test_the_shared_grammar_check_refuses_exactly_what_llguidance_cannot_compile(feature):
    schema = _wrapped(GRAMMAR_FEATURES[feature][0])
    compiles = not LLMatcher.validate_grammar_with_warnings(LLMatcher.grammar_from_json_schema(schema))[0]
    assert compiles is GRAMMAR_FEATURES[feature][1]
    problems = grammar_problems(schema)
    assert (not problems) is compiles, problems
    assert all("/properties/field" in problem for problem in problems)


def test_a_definition_no_grammar_can_enforce_is_refused_by_every_loader_naming_the_keyword(systems_copy: Path):
    tagged = _planner_data() | {"name": "tagged", "examples": []}
    tagged["schema"] = _wrapped(GRAMMAR_FEATURES["uniqueItems"][0])
    with pytest.raises(SystemDefinitionError, match="uniqueItems at /properties/field"):
        SystemDefinition.from_dict(tagged)
    (systems_copy / "tagged.json").write_text(json.dumps(tagged), encoding="utf-8")
    loaded = load_systems(systems_copy)
    assert sorted(loaded.systems) == list(SHIPPED) and [e.path.name for e in loaded.errors] == ["tagged.json"]


# Schemas the decoder might compile but the cloud cannot check safely: each is refused at load, naming the part.
UNCHECKABLE = {
    "repeat over RE2's limit": ({"type": "string", "pattern": "^a{2000}$"}, "linear time: a repeat count over 1000"),
    "in a key pattern": (
        {"type": "object", "patternProperties": {"^\\p{Script_Extensions=Greek}$": {}}},
        "linear time",
    ),
    "remote $ref": ({"type": "array", "items": {"$ref": "https://example.com/item.json"}}, "outside the schema"),
    "missing $defs entry": ({"$ref": "#/$defs/missing"}, "names nothing"),
    "missing anchor": ({"$ref": "#nowhere"}, "names nothing"),
    "urn $ref": ({"$ref": "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66"}, "outside the schema"),
    "a $ref to itself": ({"$ref": "#/properties/field"}, "loop of refs"),
    "a loop through anyOf": ({"anyOf": [{"type": "null"}, {"$ref": "#/properties/field"}]}, "loop of refs"),
    "$id below the root": ({"$id": "https://example.com/field", "type": "string"}, "$id at /properties/field"),
}


@pytest.mark.parametrize("case", sorted(UNCHECKABLE))
def test_a_schema_the_cloud_cannot_check_safely_is_refused_naming_it(case):
    sub, words = UNCHECKABLE[case]
    refused = _planner_data() | {"name": "refused", "examples": []}
    refused["schema"] = _wrapped(sub)
    with pytest.raises(SystemDefinitionError, match="/properties/field") as caught:
        SystemDefinition.from_dict(refused)
    assert words in str(caught.value)


# Patterns a backtracking engine takes exponential time on (OWASP's "Regular expression Denial of Service" and
# its kin), each with a text that almost matches.
EXPONENTIAL = [
    ("^([a-zA-Z0-9_.-]+)+@example\\.com$", "a" * 4000 + "@example.org", False),
    ("^(a+)+$", "a" * 4000 + "!", False),
    ("^(\\d|\\w)+$", "1" * 4000 + "!", False),
    ("^(a|aa)+$", "a" * 4000 + "!", False),
    ("^(([a-z])+.)+[A-Z]([a-z])+$", "a" * 4000 + "!", False),
    ("(.*a){12}", "b" * 4000 + "a" * 11, False),
    ("(.*a){12}", "b" * 4000 + "a" * 12, True),
]


@pytest.mark.parametrize(("pattern", "text", "matches"), EXPONENTIAL)
def test_a_pattern_is_checked_in_linear_time_and_answers_as_ecma_262_does(pattern, text, matches):
    schema = {"type": "object", "properties": {"v": {"type": "string", "pattern": pattern}}}
    assert grammar_problems(schema) == []
    assert output_validator(schema).is_valid({"v": text}) is matches  # a backtracking engine would not return
    short = text[-14:]  # short enough for regress, the ECMA-262 reference
    assert output_validator(schema).is_valid({"v": short}) is (ecma_regex(pattern).find(short) is not None)


def test_refs_within_the_schema_a_recursive_tree_and_patterns_still_load():
    fine = _planner_data() | {"name": "fine", "examples": [], "key_fields": {}}
    del fine["summary_sections"], fine["item_per_bullet"], fine["skip_bullets"]  # they named the planner's arrays
    fine["schema"] = {
        "type": "object",
        "$defs": {
            "item": {"$anchor": "item", "type": "string", "pattern": "^(\\d{3}-)*\\d{4}$|^[a-z]+(?:-[a-z]+)*$"},
            "node": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}},
        },
        "properties": {
            "a": {"$ref": "#/$defs/item"},
            "b": {"$ref": "#item"},
            "c": {"type": "string", "pattern": "^(ab)+$"},
            "tree": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/node"}, {"$ref": "#/$defs/node"}]},
        },
    }
    assert grammar_problems(fine["schema"]) == []
    SystemDefinition.from_dict(fine)


# The shipped labelled sets: the data every quality figure is measured on.


def _shipped_examples():
    return [(name, example) for name, system in load_systems().systems.items() for example in system.examples]


def _is_empty(example: dict) -> bool:
    return not any(example["expected"].values())


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_system_has_40_examples_split_at_least_4_16_20(name):
    system = load_systems().systems[name]
    assert len(system.examples) >= 40
    assert all(example.get("split") for example in system.examples), "shipped examples name their split"
    for split, minimum in SPLIT_MINIMUMS.items():
        assert len(system.examples_for(split)) >= minimum, f"{name}: fewer than {minimum} {split} examples"


def test_no_summary_is_in_two_splits_twice_in_a_system_or_in_two_eval_sets():
    split_of: dict[str, str] = {}
    eval_owner: dict[str, str] = {}
    for name, example in _shipped_examples():
        summary = example["summary"]
        assert split_of.setdefault(summary, example["split"]) == example["split"], f"{name}: {summary[:80]!r}"
        if example["split"] == "eval":
            assert eval_owner.setdefault(summary, name) == name, f"eval summary shared by {name}: {summary[:80]!r}"
    for name, system in load_systems().systems.items():
        repeated = [text for text, n in Counter(ex["summary"] for ex in system.examples).items() if n > 1]
        assert repeated == [], f"{name} repeats a summary"


@pytest.mark.parametrize("name", SHIPPED)
def test_every_split_has_empty_cases(name):
    system = load_systems().systems[name]
    assert sum(_is_empty(example) for example in system.examples) >= 5
    for split in SPLIT_MINIMUMS:
        assert any(_is_empty(example) for example in system.examples_for(split)), f"{name}: no empty {split} case"


@pytest.mark.parametrize("name", SHIPPED)
def test_train_and_eval_hold_long_summaries(name):
    system = load_systems().systems[name]
    for split in ("train", "eval"):
        long = [ex for ex in system.examples_for(split) if 600 <= len(ex["summary"].split()) <= 1200]
        assert len(long) >= 2, f"{name}: fewer than two 600-1200 word summaries in {split}"


def test_expected_items_are_never_duplicated():
    for name, example in _shipped_examples():
        for key, items in example["expected"].items():
            canonical = [json.dumps(item, sort_keys=True).casefold() for item in items]
            assert len(set(canonical)) == len(canonical), f"{name}: duplicate {key} in {example['summary'][:60]!r}"


def test_summaries_are_written_like_the_summarizer_writes_them():
    for name, example in _shipped_examples():
        summary, where = example["summary"], f"{name}: {example['summary'][:60]!r}"
        lines = summary.split("\n")
        assert [line for line in lines if line in HEADINGS] == list(HEADINGS), where
        starts = [lines.index(heading) for heading in HEADINGS] + [len(lines)]
        for start, end in pairwise(starts):
            body = [line for line in lines[start + 1 : end] if line.strip()]
            assert body and ("None." not in body or body == ["None."]), f"{where}: section {lines[start]}"
        assert re.search(r"\b(planner|synapse|nudge) session\b", " ".join(lines[1 : starts[1]])), where
        for match in re.finditer(r"\d{4}-\d{2}-\d{2}", summary):
            weekday = WEEKDAYS[datetime.date.fromisoformat(match.group()).weekday()]
            assert summary[: match.start()].endswith(weekday + " "), f"{where}: {match.group()} is a {weekday}"


@pytest.mark.parametrize("name", ["planner", "nudge"])
def test_labels_use_only_dates_times_and_offsets_their_summary_states(name):
    for example in load_systems().systems[name].examples:
        summary = example["summary"]
        for value in re.findall(r'"([^"]*)"', json.dumps(example["expected"])):
            match = WHEN.fullmatch(value)
            if not match:
                continue
            date, time, offset = match.groups()
            assert date in summary, f"{name}: {value} not in {summary[:60]!r}"
            if time and not (name == "nudge" and time == "09:00"):  # nudge's default time for a one-off reminder
                assert time in summary, f"{name}: {value} not in {summary[:60]!r}"
            if offset and offset != "Z":
                assert f"({offset}" in summary, f"{name}: {value} not in {summary[:60]!r}"


def test_a_pattern_that_is_not_ecma_262_is_refused_naming_it_and_pattern_properties_match_as_ecma_does():
    named = _planner_data() | {"name": "named", "examples": []}
    named["schema"] = _wrapped({"type": "string", "pattern": "^(?P<hour>[0-9]{2})$"})  # Python-only syntax
    with pytest.raises(SystemDefinitionError, match=r"is not a .regex. \(Invalid group modifier\)"):
        SystemDefinition.from_dict(named)
    keyed = output_validator({"type": "object", "patternProperties": {"^a$": {"type": "integer"}}})
    assert [error.message for error in keyed.iter_errors({"a": "x"})] == ["'x' is not of type 'integer'"]
    assert list(keyed.iter_errors({"a\n": "x"})) == []  # "a\n" is not matched by ^a$ in ECMA-262
    closed = output_validator({"type": "object", "patternProperties": {"^a$": {}}, "additionalProperties": False})
    assert list(closed.iter_errors({"a": 1})) == []
    assert [error.message for error in closed.iter_errors({"a\n": 1})] == [
        "Additional properties are not allowed ('a\\n' was unexpected)"
    ]
    typed = output_validator(
        {"type": "object", "patternProperties": {"^\\d$": {}}, "additionalProperties": {"type": "null"}}
    )
    assert [error.message for error in typed.iter_errors({"\u0663": 1, "3": 1})] == ["1 is not of type 'null'"]


def test_patterns_are_read_with_the_unicode_flag_and_an_older_pattern_valid_only_without_it_still_loads():
    letters = output_validator({"type": "string", "pattern": "^\\p{L}+$"})
    assert letters.is_valid("école") and letters.is_valid("日本") and not letters.is_valid("p{L}")
    dashed = output_validator({"type": "string", "pattern": "^a\\-b$"})  # "\\-" is an error under "u"
    assert dashed.is_valid("a-b") and not dashed.is_valid("a\\-b")
    with pytest.raises(regress.RegressError):
        ecma_regex("^\\p{L}\\-$")  # \\p needs "u", "\\-" refuses it: neither reading is safe
