"""Which held-out examples the quality bench scores: the whole `eval` split in full mode, an evenly spaced subset
(its first case, which expects no item, included) in quick mode, with the prompt left as served."""

from __future__ import annotations

from bench.quality import FULL_EXAMPLES, held_out_subset, subset_indices
from schemas.system_definition import load_systems

PLANNER = load_systems().systems["planner"]


def test_full_mode_scores_the_whole_held_out_split():
    held_out = PLANNER.examples_for("eval")
    assert subset_indices(PLANNER, FULL_EXAMPLES) == list(range(len(held_out)))
    assert held_out_subset(PLANNER, FULL_EXAMPLES).examples_for("eval") == held_out


def test_a_subset_is_evenly_spaced_from_the_first_case_and_keeps_the_prompt():
    held_out = PLANNER.examples_for("eval")
    assert subset_indices(PLANNER, 3) == [0, len(held_out) // 3, 2 * (len(held_out) // 3)]
    subset = held_out_subset(PLANNER, 3)
    assert list(subset.examples_for("eval")) == [held_out[i] for i in subset_indices(PLANNER, 3)]
    assert subset.examples_for("prompt") == PLANNER.examples_for("prompt")
    assert subset.examples_for("train") == PLANNER.examples_for("train")
