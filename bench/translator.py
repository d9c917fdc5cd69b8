"""Prefix reuse: prompt tokens and wall time per summary for N systems, ours vs naive per-system prompting.

All figures come from one run on one model, prompt and schemas; compare them as ratios.
`python -m bench.translator [--quick] [--measure N] [--json FILE]`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.models import BenchModel, load_bench_model
from bench.progress import progress

SYSTEM_COUNTS = (1, 3, 6)
FULL_MEASURED = 3  # CPU prefill runs ~10 tokens/s here: timing 6 systems both ways would take ~11 minutes
SUMMARY = (
    "Session on Monday 17 March 2025 (user in Berlin, UTC+01:00). The user is preparing the Q3 budget "
    "review. They promised Priya Nair to send the revised budget spreadsheet by Wednesday 19 March; it is "
    "urgent. They booked the review meeting with Priya and Tom Becker for Thursday 20 March, 10:00 to "
    "11:30, in room Spree. They decided to cut the travel budget by ten percent, learned that finance "
    "locks numbers on Wednesday afternoons, and want a reminder every weekday at 08:30 to check email. "
    "They also want to build a habit of a daily 20-minute walk."
)
MODES = ("reuse", "naive")


def _systems(count: int) -> list[Any]:
    from schemas.system_definition import load_systems

    shipped = load_systems().systems
    base = [shipped[name] for name in ("planner", "synapse", "nudge")]
    return [base[index % len(base)] for index in range(count)]  # beyond three, the definitions repeat


def _prompt_tokens(loaded: BenchModel, systems: list[Any]) -> dict[str, int]:
    """Prompt tokens each way for these systems, counted by the tokenizer (no model work)."""
    from edge_worker.prompting import build_summary_prompt

    prompt = build_summary_prompt(loaded.tokenizer, SUMMARY)
    return {
        "reuse": len(prompt.prefix_tokens) + sum(len(prompt.suffix_tokens(s)) for s in systems),
        "naive": sum(len(prompt.full_tokens(s)) for s in systems),
    }


def _fit_rates(translations: list[Any]) -> tuple[float, float]:
    """Least-squares seconds per prompt token and per generated token over the measured translations."""
    rows = np.array([[t.stats.prompt_tokens_processed, t.stats.generated_tokens] for t in translations], float)
    seconds = np.array([t.stats.seconds for t in translations], float)
    (per_prompt, per_generated), *_ = np.linalg.lstsq(rows, seconds, rcond=None)
    return float(per_prompt), float(per_generated)


def bench_prefix_reuse(loaded: BenchModel, max_tokens: int, measured: int) -> dict[str, Any]:
    """Translate one summary for `measured` systems each way; rows for every N in SYSTEM_COUNTS.

    Each translation's time is recorded (the shared prefix is charged to the first system), so N <= measured
    is a prefix of the one run. Larger N gets exact prompt-token counts and seconds projected from the
    per-token rates fitted to the measured translations, marked as projected.
    """
    from edge_worker.translator import Translator

    translator = Translator(loaded.model, loaded.tokenizer, loaded.info, max_tokens=max_tokens)
    systems = _systems(max(SYSTEM_COUNTS))
    translator.prepare(systems[:measured])
    import mlx.core as mx

    mx.eval(loaded.model(mx.array(loaded.tokenizer.encode("A short warm-up.", add_special_tokens=False))[None]))
    runs = {}
    for mode in MODES:
        progress(f"translation: prefix reuse, {measured} system(s), {mode}")
        runs[mode] = translator.translate("bench", SUMMARY, systems[:measured], naive=(mode == "naive"))
    per_prompt, per_generated = _fit_rates(runs["reuse"] + runs["naive"])
    rows = []
    for count in SYSTEM_COUNTS:
        row: dict[str, Any] = {"systems": count, "projected": count > measured}
        tokens = _prompt_tokens(loaded, systems[:count])
        for mode in MODES:
            done = runs[mode][:count]
            row[f"{mode}_prompt_tokens"] = tokens[mode]
            if row["projected"]:
                generated = sum(t.stats.generated_tokens for t in runs[mode])
                generated = generated * count / measured
                row[f"{mode}_seconds"] = round(tokens[mode] * per_prompt + generated * per_generated, 3)
            else:
                row[f"{mode}_seconds"] = round(sum(t.stats.seconds for t in done), 3)
        if not row["projected"]:
            row["same_output"] = [t.document for t in runs["reuse"][:count]] == [
                t.document for t in runs["naive"][:count]
            ]
        row["prompt_token_ratio"] = round(row["naive_prompt_tokens"] / row["reuse_prompt_tokens"], 3)
        row["speedup"] = round(row["naive_seconds"] / row["reuse_seconds"], 3)
        progress(f"translation: prefix reuse {row}")
        rows.append(row)
    return {
        "rows": rows,
        "measured_systems": measured,
        "generation_budget_per_system": max_tokens,
        "seconds_per_prompt_token": round(per_prompt, 5),
        "seconds_per_generated_token": round(per_generated, 5),
    }


def run(quick: bool, measured: int | None = None) -> dict[str, Any]:
    """Quick: the tiny random model, every N timed. Full: SmolLM2, N up to FULL_MEASURED timed."""
    with tempfile.TemporaryDirectory() as scratch:
        loaded = load_bench_model(quick, Path(scratch))
        measured = measured or (max(SYSTEM_COUNTS) if quick else FULL_MEASURED)
        reuse = bench_prefix_reuse(loaded, 48 if quick else 24, measured)
    return {
        "mode": "quick" if quick else "full",
        "model": loaded.label,
        "model_version": _model_version(loaded),
        "prefix_reuse": reuse["rows"],
        **{k: v for k, v in reuse.items() if k != "rows"},
    }


def _model_version(loaded: BenchModel) -> str:
    from edge_worker.translator import model_version

    return model_version(loaded.info)


def render_markdown(results: dict[str, Any]) -> str:
    lines = [
        f"### Prefix reuse ({results['mode']}: {results['model']})",
        "",
        f"One summary, N systems, greedy, up to {results['generation_budget_per_system']} generated tokens per "
        "system. Ours prefills the summary once and reuses its KV cache for each system's instructions; naive "
        "prompting (what mlx-lm's generate or Outlines' generator do per call) prefills the whole prompt for "
        "every system. Prompt tokens are exact for every N.",
        "",
        "| systems | prompt tokens (reuse) | prompt tokens (naive) | naive/reuse tokens | seconds (reuse) "
        "| seconds (naive) | speed-up | same output |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    mark = lambda row: "≈" if row["projected"] else ""  # noqa: E731
    for row in results["prefix_reuse"]:
        same = "—" if row["projected"] else ("yes" if row["same_output"] else "NO")
        lines.append(
            f"| {row['systems']} | {row['reuse_prompt_tokens']} | {row['naive_prompt_tokens']} "
            f"| {row['prompt_token_ratio']:.2f}x | {mark(row)}{row['reuse_seconds']:.2f} "
            f"| {mark(row)}{row['naive_seconds']:.2f} | {mark(row)}{row['speedup']:.2f}x | {same} |"
        )
    projected = [str(row["systems"]) for row in results["prefix_reuse"] if row["projected"]]
    if projected:
        lines += [
            "",
            f"≈: N = {', '.join(projected)} not timed in this mode (systems 4 to 6 repeat the three "
            f"definitions); seconds = its exact prompt tokens x {results['seconds_per_prompt_token'] * 1000:.1f} "
            f"ms + generated tokens x {results['seconds_per_generated_token'] * 1000:.1f} ms, the per-token "
            f"costs fitted to the {2 * results['measured_systems']} timed translations. "
            "`python -m bench.translator --measure 6` times every N.",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.translator", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny random model (< 60 s)")
    parser.add_argument(
        "--measure",
        type=int,
        choices=range(1, max(SYSTEM_COUNTS) + 1),
        metavar="N",
        help=f"time up to N systems (default {FULL_MEASURED} in full mode, all in quick mode)",
    )
    parser.add_argument("--json", dest="json_out", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    results = run(quick=args.quick, measured=args.measure)
    print(render_markdown(results))
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
