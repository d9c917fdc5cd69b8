"""Held-out quality of the translator: item-level F1, exact dates, invented and repeated items per system, for the
same model prompted zero-shot and few-shot, side by side (edge_worker.evaluate on each system's `eval` split).

SmolLM2 on a 2-core CPU takes seconds per document, so full mode scores FULL_EXAMPLES held-out examples of each
system, evenly spaced through its `eval` split (which opens with its empty cases, so the subset holds one), a
subset said so in the report; quick mode scores QUICK_EXAMPLES on the tiny random model.
A third column, TUNED_COLUMN, is filled when `run` is given `tuned_scores` (a fine-tuned adapter's scores).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.progress import progress

FULL_EXAMPLES = 4
QUICK_EXAMPLES = 1
QUICK_MAX_TOKENS = 48
PROMPTS = ("zero-shot", "few-shot")
TUNED_COLUMN = "tuned adapter"
METRICS = ("f1", "exact_date_accuracy", "invented_rate", "duplicate_items", "valid_rate", "mean_seconds")
TunedScores = Callable[[Any, int], dict[str, dict[str, Any]]]  # (system, examples) -> {system: metrics}


def _metrics(evaluation: Any) -> dict[str, Any]:
    return {name: getattr(evaluation, name) for name in METRICS} | {
        "examples": evaluation.examples,
        "dated_matches": evaluation.dated_matches,
        "empty_examples": evaluation.empty_examples,
        "prompt_version": evaluation.translator_prompt_version,
    }


def held_out_subset(system: Any, count: int) -> Any:
    """The system with only `count` of its eval examples, evenly spaced (the first included), and every other
    example as it is, so its prompt (and prompt version) is unchanged."""
    from schemas.system_definition import SystemDefinition

    held_out = list(system.examples_for("eval"))
    step = max(1, len(held_out) // count)
    chosen = {id(example) for example in held_out[::step][:count]}
    examples = [ex for ex in system.examples if id(ex) in chosen or ex not in held_out]
    return SystemDefinition.from_dict(system.to_dict() | {"examples": examples})


def run(quick: bool, tuned_scores: TunedScores | None = None) -> dict[str, Any]:
    """{"model", "examples", "held_out", "rows": [{"system", "zero-shot", "few-shot", TUNED_COLUMN}]}; each
    column holds METRICS (TUNED_COLUMN is None unless `tuned_scores` is given)."""
    from bench.models import load_bench_model
    from edge_worker.evaluate import evaluate_system
    from edge_worker.translator import Translator, prefix_cache_dir
    from schemas.system_definition import load_systems

    limit = QUICK_EXAMPLES if quick else FULL_EXAMPLES
    systems = list(load_systems().systems.values())
    with tempfile.TemporaryDirectory() as scratch:
        loaded = load_bench_model(quick, Path(scratch))
        translator = Translator(
            loaded.model,
            loaded.tokenizer,
            loaded.info,
            max_tokens=QUICK_MAX_TOKENS if quick else None,
            prefix_cache_dir=None if quick else prefix_cache_dir(),  # full mode keeps the prefixes it prefills
        )
        rows = []
        for system in systems:
            row: dict[str, Any] = {"system": system.name, "held_out": len(system.examples_for("eval"))}
            subset = held_out_subset(system, limit)
            for prompt in PROMPTS:
                evaluation = evaluate_system(
                    translator, subset, zero_shot_prompt=prompt == "zero-shot", progress=progress
                )
                row[prompt] = _metrics(evaluation)
            row[TUNED_COLUMN] = tuned_scores(system, limit).get(system.name) if tuned_scores else None
            rows.append(row)
    return {"model": loaded.label, "examples": limit, "rows": rows}


def _cell(value: Any, percent: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0%}" if percent else f"{value:.2f}" if isinstance(value, float) else str(value)


def render_markdown(data: dict[str, Any]) -> list[str]:
    """The section's table: one row per system and metric, a column per prompt (and the tuned adapter)."""
    columns = [*PROMPTS, TUNED_COLUMN]
    lines = [
        f"Model: {data['model']}. Held-out (`eval` split) examples scored per system: {data['examples']} of each "
        f"system's {data['rows'][0]['held_out'] if data['rows'] else 0}, evenly spaced (one empty case among them), "
        "a subset sized for the bench's time; `python -m edge_worker eval [--zero-shot]` scores them all. Items are matched by each system's key "
        f"fields. Targets: held-out F1 >= 0.6, no invented items where none are expected. The {TUNED_COLUMN} "
        "column is empty until a tuned adapter is measured.",
        "",
        "| system | metric | " + " | ".join(columns) + " |",
        "|---|---|" + "---:|" * len(columns),
    ]
    labels = {
        "f1": ("item F1", False),
        "exact_date_accuracy": ("exact dates", True),
        "invented_rate": ("invented (empty cases)", True),
        "duplicate_items": ("repeated items stopped", False),
        "valid_rate": ("schema-valid", True),
        "mean_seconds": ("s/doc", False),
    }
    for row in data["rows"]:
        for metric, (label, percent) in labels.items():
            cells = [_cell((row.get(column) or {}).get(metric), percent) for column in columns]
            lines.append(f"| {row['system']} | {label} | " + " | ".join(cells) + " |")
    return lines
