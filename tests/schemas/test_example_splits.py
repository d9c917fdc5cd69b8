"""Example splits: an explicit "split" wins; otherwise a rule on the summary alone decides, the same every time."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from schemas.system_definition import (
    SPLITS,
    SystemDefinition,
    SystemDefinitionError,
    default_split,
    default_systems_dir,
)

EMPTY = {"tasks": [], "events": []}


def _planner(examples: list[dict]) -> SystemDefinition:
    data = json.loads((default_systems_dir() / "planner.json").read_text(encoding="utf-8"))
    return SystemDefinition.from_dict(data | {"examples": examples})


def _unsplit(count: int, start: int = 0) -> list[dict]:
    return [{"summary": f"Overview\nSession number {n}.", "expected": EMPTY} for n in range(start, start + count)]


def _split_of(definition: SystemDefinition) -> dict[str, str]:
    return {example["summary"]: split for split in SPLITS for example in definition.examples_for(split)}


def test_the_default_rule_is_pinned_to_sha256_of_the_summary():
    # Changing the rule would move users' held-out examples into training: these values must not change.
    # sha256 mod 20 of "a", "b", "l", "m": 10, 6, 0, 13.
    assert [default_split(text) for text in ("a", "b", "l", "m")] == ["eval", "train", "prompt", "eval"]
    assert default_split("Überblick: 東京 😀") == default_split("Überblick: 東京 😀")


def test_the_default_rule_spreads_summaries_like_the_shipped_sets():
    counts = Counter(default_split(f"summary {n}") for n in range(4000))
    assert counts["prompt"] / 4000 == pytest.approx(0.10, abs=0.02)
    assert counts["train"] / 4000 == pytest.approx(0.40, abs=0.03)
    assert counts["eval"] / 4000 == pytest.approx(0.50, abs=0.03)


def test_splits_are_disjoint_and_cover_every_example_in_file_order():
    examples = _unsplit(60)
    definition = _planner(examples)
    parts = {split: definition.examples_for(split) for split in SPLITS}
    assert all(parts.values()), "60 summaries should land in every split"
    summaries = [example["summary"] for part in parts.values() for example in part]
    assert sorted(summaries) == sorted(example["summary"] for example in examples)
    assert len(set(summaries)) == len(summaries)
    order = [example["summary"] for example in examples]
    for part in parts.values():
        positions = [order.index(example["summary"]) for example in part]
        assert positions == sorted(positions)


def test_a_summary_keeps_its_split_when_examples_are_added_or_reordered():
    before = _split_of(_planner(_unsplit(40)))
    grown = _unsplit(40) + _unsplit(25, start=1000)
    random.Random(7).shuffle(grown)
    after = _split_of(_planner(grown))
    assert {summary: after[summary] for summary in before} == before


def test_an_explicit_split_wins_over_the_rule():
    examples = _unsplit(30)
    chosen = next(example for example in examples if default_split(example["summary"]) == "eval")
    chosen["split"] = "prompt"
    definition = _planner(examples)
    assert chosen in definition.examples_for("prompt")
    assert all(example["summary"] != chosen["summary"] for example in definition.examples_for("eval"))


def test_the_file_shape_keeps_explicit_splits_and_adds_none():
    definition = _planner(
        [{"summary": "s1", "expected": EMPTY, "split": "train"}, {"summary": "s2", "expected": EMPTY}]
    )
    assert definition.to_dict()["examples"] == [
        {"summary": "s1", "expected": EMPTY, "split": "train"},
        {"summary": "s2", "expected": EMPTY},
    ]
    assert SystemDefinition.from_dict(definition.to_dict()).definition_version == definition.definition_version


def test_an_unknown_split_is_named():
    with pytest.raises(SystemDefinitionError) as caught:
        _planner([{"summary": "s", "expected": EMPTY, "split": "test"}])
    assert "examples.0.split" in caught.value.problem
    with pytest.raises(ValueError, match="unknown split 'test'"):
        _planner(_unsplit(2)).examples_for("test")  # type: ignore[arg-type]
