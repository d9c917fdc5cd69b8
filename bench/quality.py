"""Held-out quality of the translator: item-level F1, exact dates, invented and repeated items per system, for the
same model prompted zero-shot, few-shot, and with a LoRA adapter tuned for the system, side by side
(edge_worker.evaluate on the same examples of each system's `eval` split).

The adapters are trained first, one per system, within bench.tuning's budget (its settings are reported beside the
scores). Full mode scores each system's whole `eval` split (FULL_EXAMPLES None: the split the product targets are
set on); quick mode trains a few steps and scores QUICK_EXAMPLES on the tiny random model (a subset evenly spaced
through the split, which opens with its empty cases, so the subset holds one).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.progress import progress

FULL_EXAMPLES = None  # the whole split: 180 documents, 40 minutes with the tuning on a quiet 2-core CPU
QUICK_EXAMPLES = 1
QUICK_MAX_TOKENS = 48
PROMPTS = ("zero-shot", "few-shot")
TUNED_COLUMN = "tuned adapter"
METRICS = ("f1", "exact_date_accuracy", "invented_rate", "duplicate_items", "valid_rate", "mean_seconds")


def _metrics(evaluation: Any) -> dict[str, Any]:
    return {name: getattr(evaluation, name) for name in METRICS} | {
        "examples": evaluation.examples,
        "dated_matches": evaluation.dated_matches,
        "empty_examples": evaluation.empty_examples,
        "prompt_version": evaluation.translator_prompt_version,
        "adapter_version": evaluation.translator_adapter_version,
    }


def subset_indices(system: Any, count: int | None) -> list[int]:
    """Positions in the system's `eval` split of the `count` examples scored (None: all): evenly spaced, the first
    included."""
    size = len(system.examples_for("eval"))
    count = size if count is None else count
    return list(range(0, size, max(1, size // count)))[:count] if count else []


def held_out_subset(system: Any, count: int | None) -> Any:
    """The system with only `count` of its eval examples (subset_indices; None: the system as it is), and every
    other example as it is, so its prompt (and prompt version) is unchanged."""
    from schemas.system_definition import SystemDefinition

    if count is None:
        return system
    held_out = list(system.examples_for("eval"))
    chosen = {id(held_out[index]) for index in subset_indices(system, count)}
    examples = [ex for ex in system.examples if id(ex) in chosen or ex not in held_out]
    return SystemDefinition.from_dict(system.to_dict() | {"examples": examples})


def score(
    translator: Any,
    system: Any,
    *,
    zero_shot: bool = False,
    adapter: Any = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """METRICS of `translator` on the system's `eval` split (edge_worker.evaluate), prompted zero-shot or few-shot,
    or with `adapter` (an edge_worker.lora.Adapter, served in the prompt it was trained on) applied to it alone."""
    from edge_worker.evaluate import evaluate_system

    if adapter is None:
        return _metrics(evaluate_system(translator, system, zero_shot_prompt=zero_shot, progress=progress))
    translator.try_adapter(system.name, adapter)
    try:
        return _metrics(evaluate_system(translator, system, progress=progress))
    finally:
        translator.use_adapters({})


def run(quick: bool) -> dict[str, Any]:
    """{"model", "examples", "subset", "rows": [{"system", "held_out", "zero-shot", "few-shot", TUNED_COLUMN}],
    "tuning"}: each column holds METRICS on the same held-out examples (`subset`: their indices in the `eval`
    split); TUNED_COLUMN is the model with an adapter trained for the system by bench.tuning (its settings and
    training in "tuning")."""
    from bench import tuning
    from bench.models import load_bench_model
    from edge_worker.translator import Translator, prefix_cache_dir
    from schemas.system_definition import load_systems

    limit = QUICK_EXAMPLES if quick else FULL_EXAMPLES
    settings = tuning.QUICK_SETTINGS if quick else tuning.BENCH_SETTINGS
    budget = tuning.QUICK_BUDGET_SECONDS if quick else tuning.BUDGET_SECONDS
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
        progress(f"quality: training an adapter per system ({budget / 60:.0f} minutes for all)")
        trials = tuning.train_adapters(translator, systems, Path(scratch) / "adapters", settings, budget, progress)
        rows = []
        for system in systems:
            row: dict[str, Any] = {"system": system.name, "held_out": len(system.examples_for("eval"))}
            subset = held_out_subset(system, limit)
            for prompt in PROMPTS:
                row[prompt] = score(translator, subset, zero_shot=prompt == "zero-shot", progress=progress)
            row[TUNED_COLUMN] = score(translator, subset, adapter=trials[system.name].adapter, progress=progress)
            rows.append(row)
    return {
        "model": loaded.label,
        "examples": len(subset_indices(systems[0], limit)) if systems else 0,
        "subset": subset_indices(systems[0], limit) if systems else [],
        "rows": rows,
        "tuning": tuning.tuning_report(trials, settings, budget),
    }


def _cell(value: Any, percent: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0%}" if percent else f"{value:.2f}" if isinstance(value, float) else str(value)


def render_markdown(data: dict[str, Any]) -> list[str]:
    """The section's table: one row per system and metric, a column per prompt and the tuned adapter; then the
    adapters' settings and training."""
    columns = [*PROMPTS, TUNED_COLUMN]
    held_out = data["rows"][0]["held_out"] if data["rows"] else 0
    scored = (
        f"each system's whole `eval` split ({held_out} examples), the same for every column"
        if data["examples"] >= held_out
        else f"{data['examples']} of each system's {held_out}, at positions "
        f"{', '.join(str(i) for i in data.get('subset', []))} (evenly spaced; the split opens with its cases that "
        "expect no item, so one is among them), the same for every column: a subset sized for the bench's time; "
        "`python -m edge_worker eval [--zero-shot]` scores them all"
    )
    lines = [
        f"Model: {data['model']}. Held-out (`eval` split) examples scored per system: {scored}. Items are matched "
        "by each system's key fields. Targets: held-out F1 >= 0.6, no invented items where none are expected.",
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
    if data.get("tuning"):
        from bench.tuning import render_tuning

        lines += ["", *render_tuning(data["tuning"])]
    return lines
