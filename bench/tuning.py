"""LoRA adapters for the quality bench: one per shipped system, all trained within one time budget, and
`python -m bench.tuning` to compare tuning settings by held-out F1.

`python -m bench.tuning [--iters N --rank R --num-layers L --learning-rate LR --prompt P --budget-minutes M]
[--examples N] [--json FILE]` trains an adapter per shipped system on the prepared SmolLM2-135M with those
settings and scores each on the quality section's held-out examples (the whole `eval` split, or N of it:
bench.quality.held_out_subset) with and without it, the same metrics as the quality section. Nothing is stored or
adopted. Progress goes to stderr.

BENCH_SETTINGS were chosen by these numbers (SmolLM2-135M, 2-core CPU shared with other work, load 6-10):
* The prompt costs the most: an iteration forwards the whole prompt and its answer. The few-shot prompt is
  2,640-2,850 tokens on average per training example, the zero-shot one 1,110-1,290 (the same instructions and
  schema outline, no worked examples), so a zero-shot iteration takes under half the time and twice the iterations
  fit the budget. The adapter learns the answer's form that the worked examples otherwise show, and it is served
  in the prompt it was trained on (edge_worker.lora.Adapter.prompt), so tuned translations prefill less too.
* LoRA on the last 4 of 30 blocks at rank 8: the backward pass through a few blocks adds little to the forward
  (zero-shot iterations measured 18-75 s with 2 blocks and 29-48 s with 8), so the few iterations that fit get
  more capacity than 2 blocks give.
* Learning rate 5e-4 (mlx-lm's LoRA default 1e-5 is for hundreds of iterations): the masked answer loss fell from
  0.9-2.4 to 0.6-1.2 within 3-6 iterations.
* The prompt is masked (only the answer is learnt), batch size 1, sequences up to 4,096 tokens (every training
  example fits; the longest few-shot one is 3,906).
A 6-minute run (`--budget-minutes 6 --examples 2`) fit 3, 4 and 6 iterations (nudge, planner, synapse: 15-110 s
each under load) and scored held-out F1 0.00, 0.00, 0.00 tuned against 0.00, 0.00, 0.50 few-shot untuned, with
items invented in every empty case: a few iterations do not teach SmolLM2-135M the task; the budget, not the
settings, is what limits the tuned column on this CPU (an Apple Silicon GPU runs many times the iterations). The
committed quality section's 9-minute run fit 4, 5 and 5 iterations at load 10, with the same outcome (F1 0.00;
the nudge adapter stopped inventing items in its empty case, the planner and synapse ones did not).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from edge_worker.tuning.train import TuneSettings

BUDGET_SECONDS = 9 * 60  # training of all systems together; the quality section then scores 27 documents
MAX_BUDGET_SECONDS = 15 * 60  # the most a tuning run may take here
BENCH_SETTINGS = TuneSettings(
    iters=40,
    rank=8,
    num_layers=4,
    scale=20.0,
    learning_rate=5e-4,
    batch_size=1,
    max_seq_length=4096,
    mask_prompt=True,
    prompt="zero-shot",
)
# The tiny random model in quick mode: the same path in seconds.
# (Its byte-level tokenizer makes the prompts 4,000-5,100 tokens long.)
QUICK_SETTINGS = replace(BENCH_SETTINGS, iters=2, rank=2, num_layers=1, learning_rate=1e-3, max_seq_length=6144)
QUICK_BUDGET_SECONDS = 60.0


def train_adapters(
    translator: Any,
    systems: Sequence[Any],
    folder: Path,
    settings: TuneSettings,
    budget_seconds: float,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """system name -> edge_worker.tuning.tune.Trial, its adapter in folder/<system>, read and not adopted.

    The systems train one after the other within `budget_seconds` together: each may use what is left divided by
    the systems still to train (one that reaches settings.iters sooner leaves its time to the next). An iteration
    under way when a share ends is finished. Raises ValueError when a system has no training data.
    """
    from edge_worker.tuning.tune import train_trial

    started, trials = time.perf_counter(), {}
    for index, system in enumerate(systems):
        share = (budget_seconds - (time.perf_counter() - started)) / (len(systems) - index)
        trials[system.name] = train_trial(
            translator, system, settings, folder / system.name, progress=progress, train_budget=max(share, 0.0)
        )
    return trials


def tuning_report(trials: dict[str, Any], settings: TuneSettings, budget_seconds: float) -> dict[str, Any]:
    """What the adapters are: the settings, the budget, and per system iterations, seconds, examples and loss."""
    return {
        "settings": asdict(settings),
        "budget_seconds": budget_seconds,
        "train_seconds": round(sum(trial.seconds for trial in trials.values()), 1),
        "systems": {
            name: {
                "iterations": len(trial.losses),
                "train_seconds": trial.seconds,
                "train_examples": trial.data["train_examples"],
                "distilled_examples": trial.data["distilled_examples"],
                "loss_first": round(trial.losses[0][1], 4) if trial.losses else None,
                "loss_last": round(trial.losses[-1][1], 4) if trial.losses else None,
            }
            for name, trial in trials.items()
        },
    }


def render_tuning(tuning: dict[str, Any]) -> list[str]:
    """The adapters' settings and training, as Markdown lines."""
    settings = tuning["settings"]
    lines = [
        f"Tuned adapters: LoRA rank {settings['rank']} on the last {settings['num_layers']} blocks, scale "
        f"{settings['scale']:g}, learning rate {settings['learning_rate']:g}, batch {settings['batch_size']}, "
        f"prompt masked: {settings['mask_prompt']}, trained and served with the {settings['prompt']} prompt; at most "
        f"{settings['iters']} iterations per system within {tuning['budget_seconds'] / 60:.0f} minutes for all "
        f"systems ({tuning['train_seconds']:.0f} s used). Training data: each system's `train` split plus distilled "
        "rows (never the `eval` split).",
        "",
        "| system | training examples | iterations | training (s) | loss first -> last |",
        "|---|---:|---:|---:|---|",
    ]
    for name, row in tuning["systems"].items():
        loss = f"{row['loss_first']:.3f} -> {row['loss_last']:.3f}" if row["loss_first"] is not None else "-"
        examples = row["train_examples"] + row["distilled_examples"]
        lines.append(f"| {name} | {examples} | {row['iterations']} | {row['train_seconds']:.0f} | {loss} |")
    return lines


def compare(
    model_path: str | Path,
    systems: Sequence[Any],
    examples: int | None,
    settings: TuneSettings,
    budget_seconds: float,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """{"tuning": tuning_report, "rows": [{"system", "base", "tuned"}]}: held-out metrics (bench.quality's
    METRICS on its subset of `examples`) of the untuned model (few-shot prompt) and of each system's adapter."""
    from bench.quality import held_out_subset, score
    from edge_worker.model_store import load_model
    from edge_worker.translator import Translator, for_this_device, prefix_cache_dir

    model, tokenizer, info = load_model(str(model_path))
    translator = Translator(for_this_device(model), tokenizer, info, prefix_cache_dir=prefix_cache_dir())
    with tempfile.TemporaryDirectory(prefix="bench-adapters-") as scratch:
        trials = train_adapters(translator, systems, Path(scratch), settings, budget_seconds, progress)
        rows = []
        for system in systems:
            subset = held_out_subset(system, examples)
            base = score(translator, subset, progress=progress)
            tuned = score(translator, subset, adapter=trials[system.name].adapter, progress=progress)
            rows.append({"system": system.name, "base": base, "tuned": tuned})
    return {"tuning": tuning_report(trials, settings, budget_seconds), "rows": rows}


def render_comparison(results: dict[str, Any]) -> str:
    lines = [
        "| system | held-out examples | F1 untuned (few-shot) | F1 tuned | invented untuned | invented tuned |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in results["rows"]:
        base, tuned = row["base"], row["tuned"]
        invented = [f"{r['invented_rate']:.0%}" if r["invented_rate"] is not None else "n/a" for r in (base, tuned)]
        lines.append(
            f"| {row['system']} | {base['examples']} | {base['f1']:.3f} | {tuned['f1']:.3f} | {invented[0]} | "
            f"{invented[1]} |"
        )
    return "\n".join([*lines, "", *render_tuning(results["tuning"])]) + "\n"


def main(argv: list[str] | None = None) -> int:
    from bench.progress import progress
    from bench.quality import FULL_EXAMPLES
    from edge_worker.lora import PROMPTS
    from edge_worker.model_store import prepare_default_model
    from schemas.system_definition import load_systems

    defaults = BENCH_SETTINGS
    parser = argparse.ArgumentParser(prog="python -m bench.tuning", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model folder (default: the prepared SmolLM2-135M)")
    parser.add_argument(
        "--examples", type=int, default=FULL_EXAMPLES, help="held-out examples per system (default: all)"
    )
    parser.add_argument("--budget-minutes", type=float, default=BUDGET_SECONDS / 60)
    parser.add_argument("--iters", type=int, default=defaults.iters)
    parser.add_argument("--rank", type=int, default=defaults.rank)
    parser.add_argument("--num-layers", type=int, default=defaults.num_layers)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--prompt", choices=PROMPTS, default=defaults.prompt)
    parser.add_argument("--system", action="append", dest="systems", help="tune only this system (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if (
        args.budget_minutes * 60 > MAX_BUDGET_SECONDS
        or args.budget_minutes <= 0
        or (args.examples is not None and args.examples <= 0)
    ):
        parser.error(f"--budget-minutes must be in (0, {MAX_BUDGET_SECONDS // 60}] and --examples positive")
    loaded = load_systems().systems
    unknown = [name for name in args.systems or () if name not in loaded]
    if unknown:
        parser.error(f"unknown system(s) {', '.join(unknown)} (known: {', '.join(sorted(loaded))})")
    systems = [loaded[name] for name in args.systems] if args.systems else list(loaded.values())
    settings = replace(
        defaults,
        iters=args.iters,
        rank=args.rank,
        num_layers=args.num_layers,
        learning_rate=args.learning_rate,
        prompt=args.prompt,
    )
    started = time.perf_counter()
    results = compare(
        args.model or prepare_default_model(), systems, args.examples, settings, args.budget_minutes * 60, progress
    )
    progress(f"done in {time.perf_counter() - started:.0f} s")
    print(render_comparison(results), end="")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
