"""The translator's costs, side by side in one run on one model: prompt tokens, speed, host work, backfill.

- Prompt tokens per summary for 1, 3 and 6 systems: ours (each system's stable part cached, the summary after it)
  against naive prompting (the whole prompt for every system), and the seconds of both for the measured systems.
- Documents per second: ours (constrained, forced tokens fast-forwarded) against ours without fast-forward and
  against unconstrained mlx-lm (generate_step) generating as many tokens from the same cached prefix; the share
  of tokens fast-forwarded, and the cost of a k-token forward pass against k single steps.
- Host microseconds per generated token (matcher, mask, guard): during decoding, and replayed alone, with the
  end-of-budget guard and without it (the fast path).
- Backfill: documents per minute for many summaries x 1 system, batched against one at a time.

All figures come from one run on one model, prompt and schemas; compare them as ratios.
`python -m bench.translator [--quick] [--json FILE]`.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.models import BenchModel, load_bench_model
from bench.progress import progress

SYSTEM_COUNTS = (1, 3, 6)
SUMMARY = (
    "Session on Monday 17 March 2025 (user in Berlin, UTC+01:00). The user is preparing the Q3 budget "
    "review. They promised Priya Nair to send the revised budget spreadsheet by Wednesday 19 March; it is "
    "urgent. They booked the review meeting with Priya and Tom Becker for Thursday 20 March, 10:00 to "
    "11:30, in room Spree. They decided to cut the travel budget by ten percent, learned that finance "
    "locks numbers on Wednesday afternoons, and want a reminder every weekday at 08:30 to check email. "
    "They also want to build a habit of a daily 20-minute walk."
)
SPEED_SUMMARIES = (
    SUMMARY,
    "Session on Wednesday 30 April 2025 (user in Madrid, UTC+02:00). The user keeps forgetting to drink water "
    "and asked for a reminder every two hours on weekdays. They will call their mother Carmen on Friday 2 May at "
    "19:30 about the family weekend, and decided to read 20 pages before bed every night.",
)
PEOPLE = ("Ana", "Ben", "Chen", "Dara", "Eli", "Fay", "Gus", "Hana")
FORWARD_SIZES = (1, 2, 4, 8, 16)


@dataclass(frozen=True)
class Workload:
    speed_summaries: int
    speed_cap: int | None  # generated tokens per document at most (None: each system's own budget)
    reuse_cap: int
    reuse_measured: int  # systems timed both ways (naive prefills ~2,000 tokens per system)
    backfill_summaries: int
    backfill_system: str
    backfill_batch: int
    backfill_cap: int


QUICK = Workload(1, 64, 64, 3, 8, "planner", 4, 64)
FULL = Workload(1, None, 32, 1, 32, "planner", 16, 160)


def _systems(count: int) -> list[Any]:
    from schemas.system_definition import load_systems

    shipped = load_systems().systems
    base = [shipped[name] for name in ("planner", "synapse", "nudge")]
    return [base[index % len(base)] for index in range(count)]  # beyond three, the definitions repeat


def _translator(loaded: BenchModel, cache_dir: Path | None, cap: int | None) -> Any:
    from edge_worker.translator import Translator

    return Translator(loaded.model, loaded.tokenizer, loaded.info, max_tokens=cap, prefix_cache_dir=cache_dir)


def _ok(outcomes: list[Any]) -> list[Any]:
    from edge_worker.translator import Translation

    bad = [o for o in outcomes if not isinstance(o, Translation)]
    if bad:
        raise RuntimeError(f"translation failed: {bad[0]}")
    return outcomes


# ----- one-time cost: each system's stable prompt part -----
def bench_prefixes(translator: Any, systems: list[Any]) -> dict[str, Any]:
    """Prefill (or read from disk) each system's prefix; what it costs once per (model, prompt) version."""
    unique = {s.name: s for s in systems}.values()
    before = translator.prefixes.prefilled
    started = time.perf_counter()
    failures = translator.prepare(list(unique))
    if failures:
        raise RuntimeError(f"cannot prepare {failures[0].system}: {failures[0].error}")
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "prefilled_now": translator.prefixes.prefilled - before,
        "prefix_tokens": {s.name: len(translator.prompt_for(s).prefix_tokens) for s in unique},
    }


# ----- prompt tokens per summary -----
def bench_prefix_reuse(translator: Any, cap: int, measured: int) -> dict[str, Any]:
    """Exact prompt tokens per summary for every N; seconds both ways for the first `measured` systems."""
    systems = _systems(max(SYSTEM_COUNTS))
    runs: dict[str, list[Any]] = {}
    for mode in ("reuse", "naive"):
        progress(f"translation: prefix reuse, {measured} system(s), {mode}")
        runs[mode] = _ok(
            translator.translate("bench", SUMMARY, systems[:measured], naive=mode == "naive", batch_size=1)
        )
    rows = []
    for count in SYSTEM_COUNTS:
        chosen = systems[:count]
        prompts = [translator.prompt_for(s) for s in chosen]
        reuse = sum(len(p.summary_tokens(SUMMARY)[1]) for p in prompts)
        naive = sum(len(p.full_tokens(SUMMARY)) for p in prompts)
        row: dict[str, Any] = {
            "systems": count,
            "reuse_prompt_tokens": reuse,
            "naive_prompt_tokens": naive,
            "prompt_token_ratio": round(naive / reuse, 2),
            "projected": count > measured,
        }
        if count <= measured:
            row["reuse_seconds"] = round(sum(t.stats.seconds for t in runs["reuse"][:count]), 3)
            row["naive_seconds"] = round(sum(t.stats.seconds for t in runs["naive"][:count]), 3)
            row["same_output"] = [t.tokens for t in runs["reuse"][:count]] == [t.tokens for t in runs["naive"][:count]]
        else:  # the measured per-system seconds, scaled by each way's exact prompt tokens
            rate = _prompt_rate(runs)
            decode_s = sum(t.stats.seconds - t.stats.prompt_tokens_processed * rate for t in runs["reuse"]) / measured
            for mode, tokens in (("reuse", reuse), ("naive", naive)):
                row[f"{mode}_seconds"] = round(tokens * rate + count * max(decode_s, 0.0), 3)
        row["speedup"] = round(row["naive_seconds"] / row["reuse_seconds"], 2) if row["reuse_seconds"] else None
        rows.append(row)
    return {"rows": rows, "measured_systems": measured, "cap": cap, "seconds_per_prompt_token": _prompt_rate(runs)}


def _prompt_rate(runs: dict[str, list[Any]]) -> float:
    """Seconds per prompt token: the naive and reuse runs differ only in prompt tokens."""
    extra_tokens = sum(t.stats.prompt_tokens_processed for t in runs["naive"]) - sum(
        t.stats.prompt_tokens_processed for t in runs["reuse"]
    )
    extra_seconds = sum(t.stats.seconds for t in runs["naive"]) - sum(t.stats.seconds for t in runs["reuse"])
    return round(max(extra_seconds, 0.0) / extra_tokens, 6) if extra_tokens else 0.0


# ----- documents per second -----
def bench_speed(translator: Any, loaded: BenchModel, summaries: tuple[str, ...]) -> dict[str, Any]:
    """Ours with and without fast-forward, and unconstrained mlx-lm generating as many tokens, one document at a
    time from the same cached prefix (suffix prefill included in every row)."""
    systems = _systems(3)
    ours, plain, unconstrained_seconds, constraints = [], [], 0.0, []
    for index, summary in enumerate(summaries):
        progress(f"translation: speed, summary {index + 1}/{len(summaries)}, ours with fast-forward")
        ours += _ok(translator.translate(f"speed-{index}", summary, systems, batch_size=1, fast_forward=True))
        progress(f"translation: speed, summary {index + 1}/{len(summaries)}, ours without fast-forward")
        plain += _ok(translator.translate(f"speed-{index}", summary, systems, batch_size=1, fast_forward=False))
        for system, done in zip(systems, ours[-len(systems) :], strict=True):
            progress(f"translation: speed, summary {index + 1}/{len(summaries)}, unconstrained, {system.name}")
            unconstrained_seconds += _unconstrained_seconds(translator, loaded, system, summary, len(done.tokens))
            constraints.append((system, done.tokens))
    documents = len(ours)
    tokens = sum(t.stats.generated_tokens for t in ours)
    forced = sum(t.stats.forced_tokens for t in ours)
    rows = {
        "ours (fast-forward)": _speed_row(ours),
        "ours (no fast-forward)": _speed_row(plain),
        "unconstrained mlx-lm": {
            "documents": documents,
            "seconds": round(unconstrained_seconds, 3),
            "documents_per_second": round(documents / unconstrained_seconds, 4),
            "forward_passes": tokens,
            "generated_tokens": tokens,
        },
    }
    return {
        "rows": rows,
        "same_tokens_without_fast_forward": [t.tokens for t in ours] == [t.tokens for t in plain],
        "fast_forwarded_share": round(forced / tokens, 3) if tokens else 0.0,
        "tokens_per_forward": round(tokens / max(1, sum(t.stats.forward_passes for t in ours)), 3),
        "ratio_vs_unconstrained": round(unconstrained_seconds / rows["ours (fast-forward)"]["seconds"], 3),
        "replay": constraints,
    }


def _speed_row(translations: list[Any]) -> dict[str, Any]:
    seconds = sum(t.stats.seconds for t in translations)
    return {
        "documents": len(translations),
        "seconds": round(seconds, 3),
        "documents_per_second": round(len(translations) / seconds, 4),
        "forward_passes": sum(t.stats.forward_passes for t in translations),
        "generated_tokens": sum(t.stats.generated_tokens for t in translations),
        "host_us_per_token": round(
            1e6 * sum(t.stats.host_seconds for t in translations) / sum(t.stats.generated_tokens for t in translations),
            1,
        ),
        "valid": len(translations),
    }


def _unconstrained_seconds(translator: Any, loaded: BenchModel, system: Any, summary: str, count: int) -> float:
    """mlx-lm's generate_step from a copy of the system's cached prefix: the summary's tokens, then `count` tokens."""
    import mlx.core as mx
    from mlx_lm.generate import generate_step

    cache, rest = translator.prefix_cache(system, summary)
    started = time.perf_counter()
    steps = generate_step(mx.array(rest), loaded.model, max_tokens=count, prompt_cache=cache)
    for _ in steps:
        pass
    return time.perf_counter() - started


def bench_forward_cost(translator: Any, loaded: BenchModel) -> dict[str, Any]:
    """Seconds of one k-token forward pass against k one-token steps, after the planner prefix (best of 3); and the
    summary's prefill and one step after it with our attention and SwiGLU and with mlx-lm's (edge_worker.attention,
    edge_worker.activations)."""
    import mlx.core as mx

    system = _systems(1)[0]
    base, rest = translator.prefix_cache(system, SUMMARY)
    tokens = rest[: max(FORWARD_SIZES)]

    def timed(feed: list[list[int]], untimed: list[list[int]] | None = None) -> float:
        best = float("inf")
        for _ in range(3):
            cache = copy.deepcopy(base)
            for chunk in untimed or []:
                mx.eval(loaded.model(mx.array(chunk)[None], cache=cache))
            started = time.perf_counter()
            for chunk in feed:
                mx.eval(loaded.model(mx.array(chunk)[None], cache=cache))
            best = min(best, time.perf_counter() - started)
        return best

    rows = []
    for k in FORWARD_SIZES:
        one_pass, steps = timed([tokens[:k]]), timed([[t] for t in tokens[:k]])
        rows.append({"k": k, "one_pass_ms": round(one_pass * 1e3, 1), "k_steps_ms": round(steps * 1e3, 1)})
    attention = {}
    module = sys.modules[type(loaded.model).__module__]
    ours = {name: value for name, value in vars(module).items() if hasattr(value, "original")}  # for_this_device's
    for label, functions in (("ours", ours), ("mlx-lm", {name: f.original for name, f in ours.items()})):
        if not ours:
            break
        for name, function in functions.items():
            setattr(module, name, function)
        try:  # the summary's prefill, then one step after it
            attention[label] = {"prefill_ms": round(timed([rest]) * 1e3, 1)}
            attention[label]["step_ms"] = round(timed([rest[-1:]], untimed=[rest]) * 1e3, 1)
        finally:
            for name, function in ours.items():
                setattr(module, name, function)
    return {
        "context_tokens": base[0].offset,
        "rows": rows,
        "summary_tokens": len(rest),
        "attention": attention,
        "routed": sorted(ours),
    }


# ----- host work per token -----
def bench_host(translator: Any, replay: list[tuple[Any, list[int]]]) -> dict[str, Any]:
    """The documents decoded above, replayed through fresh constraints with no model running: per generated
    token, the matcher and mask work with the end-of-budget guard (the shipped schemas need it) and without it
    (the fast path a schema gets when its worst case fits its budget)."""
    from edge_worker.constrained import SchemaConstraint

    figures = {}
    for label, fits in (("with the guard", False), ("fast path (no guard)", True)):
        seconds = guard = 0.0
        count = 0
        for system, tokens in replay:
            constraint = SchemaConstraint(
                translator.gtok,
                translator.grammar_for(system),
                translator.budget_for(system),
                system.name,
                worst_case_tokens=0 if fits else None,
            )
            forced = len(constraint.forced_tokens())  # as the decoder does: forced runs need no mask
            for token in tokens:
                if forced:
                    forced -= 1
                    constraint.consume(token)
                    continue
                constraint.next_mask()
                constraint.consume(token)
                forced = len(constraint.forced_tokens())
            seconds += constraint.mask_seconds
            guard += constraint.guard_seconds
            count += len(tokens)
        figures[label] = {
            "us_per_token": round(1e6 * seconds / count, 1),
            "guard_us_per_token": round(1e6 * guard / count, 1),
        }
    return figures


# ----- backfill -----
def backfill_summaries(count: int) -> list[str]:
    """`count` summaries in the summarizer's section format: the shipped systems' labelled summaries, evenly
    spaced through all of them (a backfill runs over every stored summary, most with nothing for one system)."""
    from schemas.system_definition import load_systems

    labelled = [example["summary"] for system in load_systems().systems.values() for example in system.examples]
    step = max(1, len(labelled) // count)
    return (labelled[::step] * count)[:count]


def bench_backfill(translator: Any, workload: Workload) -> dict[str, Any]:
    """Many summaries x one system: one at a time (fast-forward) against batched, same summaries.

    Each row's prefill is its own in both modes (a prefill's cost per prompt token here is the same however many
    rows share a forward pass), so the decoding seconds (total minus every row's prefill) are the part batching can
    change; batched rows hold the system prefix's KV cache once
    (SharedPrefixBatchCache)."""
    import mlx.core as mx

    from edge_worker.constrained.decode import BATCH_FEED
    from edge_worker.jobs import TranslationJob
    from schemas.system_definition import load_systems

    system = load_systems().systems[workload.backfill_system]
    summaries = backfill_summaries(workload.backfill_summaries)
    jobs = [TranslationJob(f"backfill-{i}", text, [system]) for i, text in enumerate(summaries)]
    # The two modes alternate on the same rounds of summaries, so a shared machine's changing load hits both alike.
    modes = (("one at a time", 1), ("batched", workload.backfill_batch))
    totals = {label: dict.fromkeys(("seconds", "prefill_seconds", "peak", "generated"), 0.0) for label, _ in modes}
    outputs: dict[str, list[Any]] = {label: [] for label, _ in modes}
    step = workload.backfill_batch
    for start in range(0, len(jobs), step):
        for label, size in modes:
            progress(
                f"translation: backfill, summaries {start + 1}-{start + step} of {len(jobs)} x {system.name}, {label}"
            )
            mx.reset_peak_memory()
            began = time.perf_counter()
            done = [
                _ok(outcomes)[0] for outcomes in translator.translate_many(jobs[start : start + step], batch_size=size)
            ]
            row = totals[label]
            row["seconds"] += time.perf_counter() - began
            row["prefill_seconds"] += sum(t.stats.prefill_seconds for t in done)
            row["peak"] = max(row["peak"], mx.get_peak_memory() / 1e6)
            row["generated"] += sum(t.stats.generated_tokens for t in done)
            outputs[label] += done
    rows = {
        label: {
            "batch_size": size,
            "seconds": round(totals[label]["seconds"], 2),
            "prefill_seconds": round(totals[label]["prefill_seconds"], 2),
            "decode_seconds": round(totals[label]["seconds"] - totals[label]["prefill_seconds"], 2),
            "documents_per_minute": round(60 * len(jobs) / totals[label]["seconds"], 2),
            "generated_tokens": int(totals[label]["generated"]),
            "peak_memory_mb": round(totals[label]["peak"], 1),
        }
        for label, size in modes
    }
    alone, batched = rows["one at a time"], rows["batched"]
    pairs = list(zip(outputs["one at a time"], outputs["batched"], strict=True))
    return {
        "system": system.name,
        "summaries": len(jobs),
        "summary_tokens": round(
            sum(len(translator.prompt_for(system).summary_tokens(text)[1]) for text in summaries) / len(jobs), 1
        ),
        "cap": workload.backfill_cap,
        "feed": BATCH_FEED,
        "rows": rows,
        "ratio": round(batched["documents_per_minute"] / alone["documents_per_minute"], 2),
        "decode_ratio": round(alone["decode_seconds"] / max(batched["decode_seconds"], 1e-9), 2),
        "prefill_share": round(alone["prefill_seconds"] / alone["seconds"], 3),
        "bound": round(alone["seconds"] / max(batched["prefill_seconds"], 1e-9), 2),
        "same_tokens": sum(a.tokens == b.tokens for a, b in pairs),
        "same_documents": sum(a.document == b.document for a, b in pairs),
    }


def run(quick: bool, cache_dir: Path | None = None) -> dict[str, Any]:
    """Quick: the tiny random model, small workloads. Full: SmolLM2, prefix caches under $SSP_HOME/prefix-cache."""
    from edge_worker.blas import loaded as blas
    from edge_worker.translator import model_version, prefix_cache_dir

    workload = QUICK if quick else FULL
    with tempfile.TemporaryDirectory() as scratch:
        loaded = load_bench_model(quick, Path(scratch))
        folder = cache_dir or (Path(scratch) / "prefix-cache" if quick else prefix_cache_dir())
        translator = _translator(loaded, folder, workload.speed_cap)
        progress("translation: each system's prompt prefix (once per model and prompt version)")
        prefixes = bench_prefixes(translator, _systems(3))
        translator.max_tokens = workload.reuse_cap
        reuse = bench_prefix_reuse(translator, workload.reuse_cap, workload.reuse_measured)
        translator.max_tokens = workload.speed_cap
        speed = bench_speed(translator, loaded, SPEED_SUMMARIES[: workload.speed_summaries])
        progress("translation: k-token forward passes against k steps")
        forward = bench_forward_cost(translator, loaded)
        progress("translation: host work per token, replayed")
        host = bench_host(translator, speed.pop("replay"))
        translator.max_tokens = workload.backfill_cap
        backfill = bench_backfill(translator, workload)
    return {
        "mode": "quick" if quick else "full",
        "model": loaded.label,
        "model_version": model_version(loaded.info),
        "blas": blas or "the mlx-cpu wheel's reference BLAS",
        "prefixes": prefixes,
        "prefix_reuse": reuse["rows"],
        "reuse": {k: v for k, v in reuse.items() if k != "rows"},
        "speed": speed,
        "speed_cap": workload.speed_cap,
        "forward_cost": forward,
        "host": host,
        "backfill": backfill,
    }


def render_markdown(results: dict[str, Any]) -> str:
    lines = _prompt_lines(results) + _speed_lines(results) + _host_lines(results) + _backfill_lines(results)
    return "\n".join(lines) + "\n"


def _prompt_lines(results: dict[str, Any]) -> list[str]:
    prefixes, reuse = results["prefixes"], results["reuse"]
    lines = [
        f"### Prompt tokens per summary ({results['mode']}: {results['model']})",
        "",
        "Each system's stable prompt part (system message, instructions, schema outline and its worked examples) "
        "is prefilled once per (model version, prompt version) and its KV cache kept in memory and under "
        "`$SSP_HOME/prefix-cache`; a summary then costs only its own tokens and the closing ones. Naive prompting "
        "(what mlx-lm's generate or Outlines' generator do per call) prefills the whole prompt for every system. "
        f"Greedy, up to {reuse['cap']} generated tokens per system; prompt tokens are exact for every N.",
        "",
        "| systems | prompt tokens (ours) | prompt tokens (naive) | naive/ours tokens | seconds (ours) "
        "| seconds (naive) | speed-up | same tokens |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in results["prefix_reuse"]:
        mark = "≈" if row["projected"] else ""
        same = "—" if row["projected"] else ("yes" if row["same_output"] else "NO")
        lines.append(
            f"| {row['systems']} | {row['reuse_prompt_tokens']} | {row['naive_prompt_tokens']} "
            f"| {row['prompt_token_ratio']:.1f}x | {mark}{row['reuse_seconds']:.2f} | {mark}{row['naive_seconds']:.2f} "
            f"| {mark}{row['speedup']:.1f}x | {same} |"
        )
    tokens = ", ".join(f"{name} {count}" for name, count in prefixes["prefix_tokens"].items())
    lines += [
        "",
        f"Once per (model, prompt) version: prefix tokens {tokens}; "
        f"{prefixes['prefilled_now']} prefilled in this run ({prefixes['seconds']:.1f} s; 0 means read from disk). "
        f"≈: not timed (seconds = exact prompt tokens x {reuse['seconds_per_prompt_token'] * 1000:.1f} ms, the "
        f"per-token prompt cost measured on {reuse['measured_systems']} system(s), plus the same decoding per system).",
        "",
    ]
    return lines


def _speed_lines(results: dict[str, Any]) -> list[str]:
    speed, forward = results["speed"], results["forward_cost"]
    rows = speed["rows"]
    base = rows["unconstrained mlx-lm"]["documents_per_second"]
    lines = [
        f"### Constrained translation against unconstrained generation ({results['model']})",
        "",
        f"The same summaries, systems (planner, synapse, nudge) and cached prefixes, one document at a time, greedy, "
        f"up to {results['speed_cap'] or 'each system’s own budget of'} tokens per document. Unconstrained mlx-lm (`generate_step`) generates as many "
        "tokens as our document has, from a copy of the same prefix cache; every row prefills the summary's own "
        f"tokens. BLAS under MLX: {results['blas']}.",
        "",
        "| decoder | documents | seconds | documents/s | vs unconstrained | forward passes | tokens | host µs/token |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        host = f"{row['host_us_per_token']:.0f}" if "host_us_per_token" in row else "—"
        lines.append(
            f"| {name} | {row['documents']} | {row['seconds']:.2f} | {row['documents_per_second']:.3f} "
            f"| {row['documents_per_second'] / base:.2f}x | {row['forward_passes']} | {row['generated_tokens']} "
            f"| {host} |"
        )
    k_rows = forward["rows"]
    cost = " · ".join(
        f"k={r['k']}: {r['one_pass_ms']:.0f} ms vs {r['k_steps_ms']:.0f} ms ({r['one_pass_ms'] / r['k_steps_ms']:.2f})"
        for r in k_rows
    )
    lines += [
        "",
        f"Fast-forwarded: {speed['fast_forwarded_share']:.0%} of the generated tokens were forced by the grammar "
        f"(keys, punctuation, closing brackets) and fed without sampling; {speed['tokens_per_forward']:.2f} tokens "
        f"per forward pass. Same tokens with and without fast-forward: "
        f"{'yes' if speed['same_tokens_without_fast_forward'] else 'NO'}. "
        f"Measured ratio, constrained with fast-forward ÷ unconstrained: **{speed['ratio_vs_unconstrained']:.2f}x**.",
        "",
        f"A k-token forward pass against k one-token steps after a {forward['context_tokens']}-token prefix "
        f"(one pass vs k steps, ratio): {cost}.",
        "",
        *_attention_lines(forward),
        f"Projected where a k-token forward costs about one step and host work overlaps the step (Apple Silicon): "
        f"documents/s ratio ≈ tokens ÷ forward passes = **{speed['tokens_per_forward']:.2f}x** (projected, not "
        "measured here).",
        "",
    ]
    return lines


def _attention_lines(forward: dict[str, Any]) -> list[str]:
    figures = forward.get("attention", {})
    if len(figures) < 2:
        return []
    ours, theirs = figures["ours"], figures["mlx-lm"]
    return [
        f"Attention and SwiGLU (edge_worker.attention and edge_worker.activations against mlx-lm's "
        f"`mx.fast.scaled_dot_product_attention` and `swiglu`, same model; routed here: "
        f"{', '.join(forward.get('routed', []))}): the summary's {forward['summary_tokens']}-token prefill after the "
        f"prefix {ours['prefill_ms']:.0f} ms vs {theirs['prefill_ms']:.0f} ms "
        f"(**{theirs['prefill_ms'] / ours['prefill_ms']:.2f}x**), one decoding step after it {ours['step_ms']:.0f} ms "
        f"vs {theirs['step_ms']:.0f} ms. MLX's CPU exp is scalar; ours runs the softmax in numpy and SwiGLU's "
        "sigmoid with 2**x.",
        "",
    ]


def _host_lines(results: dict[str, Any]) -> list[str]:
    host, rows = results["host"], results["speed"]["rows"]
    live = rows["ours (fast-forward)"]["host_us_per_token"]
    lines = [
        "### Host work per generated token",
        "",
        "| | µs per token | of which the end-of-budget guard |",
        "|---|---:|---:|",
    ]
    for label, figures in host.items():
        lines.append(
            f"| replayed alone, {label} | {figures['us_per_token']:.0f} | {figures['guard_us_per_token']:.0f} |"
        )
    lines += [
        f"| during decoding (CPU time of the decoding thread, with the guard) | {live:.0f} | — |",
        "",
        "Replayed alone: the documents decoded above fed through fresh matchers with no model running (target: at "
        "most 100 µs). During decoding the mask is computed while MLX runs the forward pass on the same two CPU "
        "cores, so the same work takes longer here; on Apple Silicon the forward pass runs on the GPU. The fast "
        "path skips the guard for schemas whose worst case fits the budget by construction (maxLength, maxItems, "
        "enums; `budget.worst_case_tokens`); the shipped schemas have unbounded fields and keep the guard.",
        "",
    ]
    return lines


def _backfill_lines(results: dict[str, Any]) -> list[str]:
    backfill = results["backfill"]
    rows = backfill["rows"]
    lines = [
        f"### Backfill: {backfill['summaries']} summaries x 1 system ({backfill['system']})",
        "",
        f"Summaries in the summarizer's section format (the shipped systems' labelled summaries, "
        f"{backfill['summary_tokens']:.0f} prompt tokens each on average after the cached prefix); greedy, up to "
        f"{backfill['cap']} tokens per document. Batched: one decoding batch whose rows hold the system prefix's KV "
        "cache once and their own tokens in mlx-lm's BatchKVCache, one matcher per sequence; a step feeds each row "
        f"up to {backfill.get('feed', 1)} tokens it already knows (the grammar's forced tokens), packed one after "
        "another, so the model's matmuls and the prefix's attention see no pads (only the rows' own KV cache is "
        "padded, its pads masked from then on); a finished row's place goes to the next summary. Every "
        "row prefills its own summary in both modes. The two modes take turns on the same rounds of summaries (one "
        "batch's worth each), so a shared machine's changing load weighs on both alike.",
        "",
        "| | batch size | seconds | of which prefill | of which decoding | documents/minute | tokens "
        "| peak MLX memory (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, row in rows.items():
        lines.append(
            f"| {label} | {row['batch_size']} | {row['seconds']:.1f} | {row['prefill_seconds']:.1f} "
            f"| {row['decode_seconds']:.1f} | {row['documents_per_minute']:.1f} | {row['generated_tokens']} "
            f"| {row['peak_memory_mb']:.0f} |"
        )
    lines += [
        "",
        f"Batched ÷ one at a time: **{backfill['ratio']:.2f}x** documents per minute; decoding alone "
        f"{backfill['decode_ratio']:.2f}x. Prefilling the summaries is {100 * backfill['prefill_share']:.0f}% of the "
        f"one-at-a-time seconds and does not shrink with batching on this CPU (a prefill costs the same per prompt "
        f"token however many rows share a forward pass: rows prefilled side by side measured no faster), so even "
        f"free decoding would give at most {backfill['bound']:.2f}x. Token-identical documents: "
        f"{backfill['same_tokens']}/{backfill['summaries']}; equal documents: {backfill['same_documents']}/"
        f"{backfill['summaries']} (a repeated item is rolled back while a sequence decodes alone, and dropped after "
        "decoding in a batch).",
        "",
    ]
    if backfill.get("note"):
        lines += [backfill["note"], ""]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.translator", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny random model (< 60 s)")
    parser.add_argument("--json", dest="json_out", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    results = run(quick=args.quick)
    print(render_markdown(results))
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
