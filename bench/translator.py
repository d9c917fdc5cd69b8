"""Translator benchmark: prefix reuse vs naive prompting, and the cost of constrained decoding.

All figures come from one run on one model, prompt and schema; compare them as ratios.
`python -m bench.translator [--quick] [--out FILE]`.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_COUNTS = (1, 3, 6)
SUMMARY = (
    "Session on Monday 17 March 2025 (user in Berlin, UTC+01:00). The user is preparing the Q3 budget "
    "review. They promised Priya Nair to send the revised budget spreadsheet by Wednesday 19 March; it is "
    "urgent. They booked the review meeting with Priya and Tom Becker for Thursday 20 March, 10:00 to "
    "11:30, in room Spree. They decided to cut the travel budget by ten percent, learned that finance "
    "locks numbers on Wednesday afternoons, and want a reminder every weekday at 08:30 to check email. "
    "They also want to build a habit of a daily 20-minute walk."
)


def _progress(message: str) -> None:
    print(f"[bench translator] {message}", file=sys.stderr, flush=True)


@dataclass
class _Loaded:
    model: Any
    tokenizer: Any
    info: Any
    label: str


def _load(quick: bool, scratch: Path) -> _Loaded:
    if quick:
        spec = importlib.util.spec_from_file_location("tiny_model", ROOT / "tests" / "edge" / "tiny_model.py")
        tiny = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(tiny)
        folder = tiny.build_tiny_model(scratch / "tiny-model")
        label = "tiny random llama (2 layers, hidden 64)"
    else:
        from edge_worker.model_store import prepare_default_model

        folder = prepare_default_model(progress=_progress)
        label = folder.name
    from edge_worker.model_store import load_model

    _progress(f"loading {label}")
    model, tokenizer, info = load_model(str(folder))
    return _Loaded(model, tokenizer, info, label)


def _systems() -> list[Any]:
    from schemas.system_definition import load_systems

    shipped = load_systems().systems
    base = [shipped[name] for name in ("planner", "synapse", "nudge")]
    return base + base  # six by repeating the three definitions


def bench_prefix_reuse(loaded: _Loaded, max_tokens: int) -> list[dict[str, Any]]:
    from edge_worker.translator import Translator

    translator = Translator(loaded.model, loaded.tokenizer, loaded.info, max_tokens=max_tokens)
    systems = _systems()
    _progress("prefix reuse: warm-up")
    translator.translate("warm-up", "A short warm-up summary.", systems[:1])
    rows = []
    for count in SYSTEM_COUNTS:
        row: dict[str, Any] = {"systems": count}
        outputs = {}
        for mode in ("reuse", "naive"):
            _progress(f"prefix reuse: {count} system(s), {mode}")
            started = time.perf_counter()
            translations = translator.translate("bench", SUMMARY, systems[:count], naive=(mode == "naive"))
            row[f"{mode}_seconds"] = round(time.perf_counter() - started, 3)
            row[f"{mode}_prompt_tokens"] = sum(t.stats.prompt_tokens_processed for t in translations)
            row[f"{mode}_generated_tokens"] = sum(t.stats.generated_tokens for t in translations)
            outputs[mode] = [t.document for t in translations]
        row["same_output"] = outputs["reuse"] == outputs["naive"]
        row["prompt_token_ratio"] = round(row["naive_prompt_tokens"] / row["reuse_prompt_tokens"], 3)
        row["speedup"] = round(row["naive_seconds"] / row["reuse_seconds"], 3)
        _progress(f"prefix reuse: {row}")
        rows.append(row)
    return rows


def _decode(loaded: _Loaded, cache: list[Any], last_token: int, tokens: int, constraint: Any) -> tuple[int, float]:
    """Decode `tokens` steps after a prefilled prompt; (tokens, seconds after the first token)."""
    import mlx.core as mx
    from mlx_lm.generate import generate_step

    steps = generate_step(
        mx.array([last_token]),
        loaded.model,
        max_tokens=tokens,
        logits_processors=[constraint] if constraint is not None else None,
        prompt_cache=copy.deepcopy(cache),
    )
    out: list[int] = []
    first = 0.0
    for token, _ in steps:
        out.append(token)
        if len(out) == 1:
            first = time.perf_counter()
        if constraint is not None:
            constraint.sync(out)
            if constraint.complete:
                break
    return len(out), time.perf_counter() - first


def bench_constraint_overhead(loaded: _Loaded, tokens: int, repeats: int) -> dict[str, Any]:
    """Steady-state decode speed with and without the grammar, for the same number of tokens.

    The constraint gets the system's own budget so the end-of-budget guard stays idle; decoding stops
    after `tokens` steps (or when the document is complete).
    """
    import mlx.core as mx

    from edge_worker.constrained import SchemaConstraint, compile_schema, grammar_tokenizer
    from edge_worker.prompting import build_summary_prompt
    from mlx_lm.models.cache import make_prompt_cache

    system = _systems()[1]  # synapse: free-text lists, so output runs long enough to measure
    prompt = build_summary_prompt(loaded.tokenizer, SUMMARY).full_tokens(system)
    _progress(f"constraint overhead: prefilling {len(prompt)} prompt tokens once")
    cache = make_prompt_cache(loaded.model)
    loaded.model(mx.array(prompt[:-1])[None], cache=cache)
    mx.eval([c.state for c in cache])
    started = time.perf_counter()
    gtok = grammar_tokenizer(loaded.tokenizer)
    grammar_tokenizer_seconds = time.perf_counter() - started
    grammar = compile_schema(system.schema, gtok, system=system.name)

    constrained, unconstrained, mask_us, guard_us, counts = [], [], [], [], []
    for repeat in range(repeats):
        _progress(f"constraint overhead: run {repeat + 1}/{repeats}")
        constraint = SchemaConstraint(gtok, grammar, max_tokens=system.max_output_tokens, system=system.name)
        count, seconds = _decode(loaded, cache, prompt[-1], tokens, constraint)
        counts.append(count)
        constrained.append((count - 1) / seconds)
        mask_us.append(constraint.mask_seconds / max(constraint.mask_calls, 1) * 1e6)
        guard_us.append(constraint.guard_seconds / max(constraint.mask_calls, 1) * 1e6)
        count, seconds = _decode(loaded, cache, prompt[-1], count, None)
        unconstrained.append((count - 1) / seconds)
    constrained_tps, unconstrained_tps = statistics.median(constrained), statistics.median(unconstrained)
    step_us = 1e6 / constrained_tps
    mask = statistics.median(mask_us)
    return {
        "system": system.name,
        "prompt_tokens": len(prompt),
        "tokens": min(counts),
        "repeats": repeats,
        "constrained_tokens_per_second": round(constrained_tps, 2),
        "unconstrained_tokens_per_second": round(unconstrained_tps, 2),
        "constrained_over_unconstrained": round(constrained_tps / unconstrained_tps, 3),
        "mask_us_per_token": round(mask, 1),
        "mask_share_of_step": round(mask / step_us, 4),
        "budget_guard_us_per_token": round(statistics.median(guard_us), 1),
        "grammar_tokenizer_seconds": round(grammar_tokenizer_seconds, 3),
    }


def run(quick: bool) -> dict[str, Any]:
    """Measure everything on one model: the tiny random one (quick) or SmolLM2 (full)."""
    with tempfile.TemporaryDirectory() as scratch:
        loaded = _load(quick, Path(scratch))
        reuse_tokens = 48 if quick else 32
        overhead_tokens = 128 if quick else 64
        return {
            "mode": "quick" if quick else "full",
            "model": loaded.label,
            "model_version": _model_version(loaded),
            "prefix_reuse": bench_prefix_reuse(loaded, reuse_tokens),
            "generation_budget_per_system": reuse_tokens,
            "constraint": bench_constraint_overhead(loaded, overhead_tokens, repeats=3 if quick else 2),
        }


def _model_version(loaded: _Loaded) -> str:
    from edge_worker.translator import model_version

    return model_version(loaded.info)


def render_markdown(results: dict[str, Any]) -> str:
    lines = [
        f"### Translator ({results['mode']}: {results['model']})",
        "",
        f"Prefix reuse: one summary, N systems, greedy, up to {results['generation_budget_per_system']} "
        "generated tokens per system. Naive prompting prefills the whole prompt for every system.",
        "",
        "| systems | prompt tokens (reuse) | prompt tokens (naive) | naive/reuse tokens | seconds (reuse) "
        "| seconds (naive) | speed-up | same output |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in results["prefix_reuse"]:
        lines.append(
            f"| {row['systems']} | {row['reuse_prompt_tokens']} | {row['naive_prompt_tokens']} "
            f"| {row['prompt_token_ratio']:.2f}x | {row['reuse_seconds']:.2f} | {row['naive_seconds']:.2f} "
            f"| {row['speedup']:.2f}x | {'yes' if row['same_output'] else 'NO'} |"
        )
    c = results["constraint"]
    lines += [
        "",
        f"Constrained decoding ({c['system']} schema, {c['prompt_tokens']}-token prompt prefilled once, "
        f"{c['tokens']} tokens per run, median of {c['repeats']}):",
        "",
        "| | tokens/s |",
        "|---|---:|",
        f"| unconstrained mlx-lm | {c['unconstrained_tokens_per_second']:.1f} |",
        f"| constrained (llguidance) | {c['constrained_tokens_per_second']:.1f} |",
        f"| ratio | {c['constrained_over_unconstrained']:.2f} |",
        "",
        f"Mask work per token (processor total): {c['mask_us_per_token']:.0f} µs, {c['mask_share_of_step']:.1%} "
        f"of a constrained step; of it the end-of-budget guard: {c['budget_guard_us_per_token']:.0f} µs. Building the grammar tokenizer (once per model): {c['grammar_tokenizer_seconds']:.2f} s.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.translator")
    parser.add_argument("--quick", action="store_true", help="tiny random model, a few tokens (< 60 s)")
    parser.add_argument("--out", type=Path, help="also write the markdown section here")
    parser.add_argument("--json", dest="json_out", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    results = run(quick=args.quick)
    text = render_markdown(results)
    print(text)
    if args.out:
        args.out.write_text(text)
    if args.json_out:
        import json

        args.json_out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
