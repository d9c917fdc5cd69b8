"""Held-out F1 before and after LoRA tuning, per shipped system, within a fixed training budget.

`python -m bench.tuning [--model PATH] [--eval-limit N] [--json FILE]` tunes every shipped system on the model
(default: the prepared SmolLM2-135M) with BENCH_SETTINGS, training all systems within BUDGET_SECONDS together,
and scores each on the first N examples of its held-out `eval` split, with and without the adapter. Nothing is
stored or adopted. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from edge_worker.tuning.train import TuneSettings

BUDGET_SECONDS = 15 * 60  # training time for all systems together
# Sized for a 2-core CPU: LoRA on the last 2 of 30 blocks keeps the backward pass short (the forward over the
# whole ~2,500-token system-first prompt is the cost of an iteration); rank 4 and a higher learning rate make the
# few iterations that fit count; the prompt is masked so only the answer is learnt; 4,096 tokens fit every prompt.
BENCH_SETTINGS = TuneSettings(
    iters=20, rank=4, num_layers=2, scale=20.0, learning_rate=2e-4, batch_size=1, max_seq_length=4096, mask_prompt=True
)


def tuned_scores(
    model_path: str | Path,
    systems: Sequence[Any],
    eval_limit: int | None,
    progress: Callable[[str], None],
    settings: TuneSettings = BENCH_SETTINGS,
    budget_seconds: float = BUDGET_SECONDS,
) -> dict[str, dict[str, Any]]:
    """system name -> {"f1_before", "f1_after", "eval_examples", "iterations", "train_seconds", "losses",
    "settings"}: held-out F1 (edge_worker.evaluate micro F1 on the first `eval_limit` `eval` examples) without and
    with an adapter trained on the system's `train` split plus distilled data. Training of all systems shares
    `budget_seconds`, split evenly; each system stops at settings.iters or its share, whichever comes first."""
    from edge_worker.model_store import load_model
    from edge_worker.translator import Translator, for_this_device, prefix_cache_dir
    from edge_worker.tuning.tune import HeldOut, tune_system

    model, tokenizer, info = load_model(str(model_path))
    # The on-disk prefix caches: the base model's are reused; a trial adapter's are keyed on its weights' digest.
    translator = Translator(for_this_device(model), tokenizer, info, prefix_cache_dir=prefix_cache_dir())
    results: dict[str, dict[str, Any]] = {}
    share = budget_seconds / max(len(systems), 1)
    for system in systems:
        result = tune_system(
            translator,
            system,
            settings,
            eval_limit=eval_limit,
            progress=progress,
            adopt=None,
            deadline=None,
            train_budget=share,
        )
        progress(result.message)
        results[system.name] = {
            "f1_before": round(result.f1_before, 4),
            "f1_after": round(result.f1_after, 4),
            "eval_examples": len(HeldOut(system, eval_limit).examples),
            "iterations": len(result.losses),
            "train_seconds": result.train_seconds,
            "losses": [round(loss, 4) for _, loss in result.losses],
            "settings": asdict(settings),
        }
    return results


def render_markdown(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| system | held-out examples | F1 untuned | F1 tuned | iterations | training (s) | loss first -> last |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, row in results.items():
        losses = row["losses"]
        trend = f"{losses[0]:.3f} -> {losses[-1]:.3f}" if losses else "-"
        lines.append(
            f"| {name} | {row['eval_examples']} | {row['f1_before']:.3f} | {row['f1_after']:.3f} | "
            f"{row['iterations']} | {row['train_seconds']:.0f} | {trend} |"
        )
    if results:
        settings = next(iter(results.values()))["settings"]
        lines += ["", "Settings: " + ", ".join(f"{key}={value}" for key, value in settings.items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from bench.progress import progress
    from edge_worker.model_store import prepare_default_model
    from schemas.system_definition import load_systems

    parser = argparse.ArgumentParser(prog="python -m bench.tuning", description=__doc__)
    parser.add_argument("--model", help="model folder (default: the prepared SmolLM2-135M)")
    parser.add_argument("--eval-limit", type=int, default=2, help="held-out examples per system (default 2)")
    parser.add_argument("--budget-minutes", type=float, default=BUDGET_SECONDS / 60)
    parser.add_argument("--system", action="append", dest="systems", help="tune only this system (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    loaded = load_systems().systems
    systems = [loaded[name] for name in args.systems] if args.systems else list(loaded.values())
    started = time.perf_counter()
    results = tuned_scores(
        args.model or prepare_default_model(),
        systems,
        args.eval_limit,
        progress,
        budget_seconds=args.budget_minutes * 60,
    )
    progress(f"done in {time.perf_counter() - started:.0f} s")
    print(render_markdown(results), end="")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
