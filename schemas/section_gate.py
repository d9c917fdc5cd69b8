"""Which summary sections each top-level list of a system's document comes from, and what that decides before
the model runs: a list whose sections all say "None." is empty (the grammar allows no item), and a document whose
lists all are is the empty document (no model run).

A definition's `summary_sections` is either a list of headings (every top-level list reads them all) or an object
{list property: [headings]}; schemas.summary_format gives the headings.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

from schemas.summary_format import NOTHING, SECTIONS, says_nothing

SummarySections = Sequence[str] | Mapping[str, Sequence[str]]


def list_properties(schema: dict[str, Any]) -> list[str]:
    """The top-level properties of `schema` whose type is "array", in schema order."""
    properties = schema.get("properties", {})
    return [name for name, sub in properties.items() if isinstance(sub, dict) and sub.get("type") == "array"]


def by_property(schema: dict[str, Any], sections: SummarySections | None) -> dict[str, tuple[str, ...]]:
    """{list property: its headings}; a plain list of headings applies to every list property."""
    if not sections:
        return {}
    if isinstance(sections, Mapping):
        return {name: tuple(headings) for name, headings in sections.items()}
    return dict.fromkeys(list_properties(schema), tuple(sections))


def empty_properties(summary: str, gate: Mapping[str, Sequence[str]]) -> list[str]:
    """The list properties whose every heading says "None." in `summary` (none for a summary not in the format)."""
    return [name for name, headings in gate.items() if headings and says_nothing(summary, headings)]


def without_items(schema: dict[str, Any], properties: Sequence[str]) -> dict[str, Any]:
    """`schema` with each of `properties` allowed no item (maxItems 0): every document it admits the original
    admits too. The schema itself when `properties` is empty."""
    if not properties:
        return schema
    narrowed = copy.deepcopy(schema)
    for name in properties:
        narrowed["properties"][name]["maxItems"] = 0
    return narrowed


def gate_problems(
    schema: dict[str, Any], sections: SummarySections | None, examples: Sequence[tuple[str, Any]]
) -> list[str]:
    """Why `summary_sections` cannot be used: a heading the summarizer does not write, a name that is not a
    top-level list of the schema (or one that may not be empty), or a labelled example (summary, expected) whose
    sections say "None." but which expects items in a list they decide."""
    gate = by_property(schema, sections)
    headings = [heading for named in gate.values() for heading in named]
    unknown = [heading for heading in headings if heading not in SECTIONS]
    if unknown:
        return [f"summary_sections: {unknown[0]!r} is not a summary section (one of {', '.join(SECTIONS)})"]
    lists = list_properties(schema)
    if isinstance(sections, Mapping) and not sections:
        return ["summary_sections: name at least one list property"]
    if not lists and sections:
        return ["summary_sections: the schema has no top-level list to leave empty"]
    for name, named in gate.items():
        if name not in lists:
            return [f"summary_sections: {name!r} is not a top-level list of the schema ({', '.join(lists)})"]
        if not named:
            return [f"summary_sections: {name!r} names no section"]
        if schema["properties"][name].get("minItems", 0) > 0:
            return [f"summary_sections: {name!r} has minItems, so it cannot be left empty"]
    problems = []
    for index, (summary, expected) in enumerate(examples):
        for name in empty_properties(summary, gate):
            if isinstance(expected, dict) and expected.get(name):
                problems.append(
                    f"summary_sections: examples[{index}] says {NOTHING!r} under {', '.join(gate[name])} but "
                    f"expects {name} {json.dumps(expected[name])[:120]}, not an empty list"
                )
    return problems
