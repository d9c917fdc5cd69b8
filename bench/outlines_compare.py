"""Our translator vs Outlines (mlx-lm integration) vs unconstrained mlx-lm: same model, prompt, schemas, budget.

Every system gets the same prompt tokens (our translation prompt) and the same cap on generated tokens.
Ours prefills the summary once for all systems; the other two prefill each system's full prompt.
"""

from __future__ import annotations

import json
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from bench.models import BenchModel, load_bench_model
from bench.progress import progress

OUTLINES_PIN = "1.3.3"
SUMMARIES = (
    "Session on Monday 17 March 2025 (user in Berlin, UTC+01:00). The user is preparing the Q3 budget review. "
    "They promised Priya Nair to send the revised budget spreadsheet by Wednesday 19 March; it is urgent. They "
    "booked the review meeting with Priya and Tom Becker for Thursday 20 March, 10:00 to 11:30, in room Spree. "
    "They want a reminder every weekday at 08:30 to check email, and to build a habit of a daily 20-minute walk.",
    "Session on Wednesday 30 April 2025 (user in Madrid, UTC+02:00). The user keeps forgetting to drink water "
    "and asked for a reminder every two hours on weekdays. They will call their mother Carmen on Friday 2 May at "
    "19:30 about the family weekend, and decided to read 20 pages before bed every night.",
)


def outlines_status() -> tuple[bool, str]:
    """Whether Outlines can run here, and why not when it cannot."""
    try:
        version = metadata.version("outlines")
    except metadata.PackageNotFoundError:
        return False, f"outlines is not installed (pip install outlines=={OUTLINES_PIN} into .venv)"
    if version != OUTLINES_PIN:
        return False, f"outlines {version} is installed; this comparison is pinned to {OUTLINES_PIN}"
    try:
        import outlines  # noqa: F401
    except Exception as error:  # an import-time conflict is a reason to skip, reported as such
        return False, f"outlines {version} does not import: {type(error).__name__}: {error}"
    return True, f"outlines {version}"


def _cpu_mask_for_outlines() -> bool:
    """outlines-core applies its MLX mask with a Metal kernel; on a CPU build use numpy unpacking + mx.where.

    This is the same substitution our own constraint makes on CPU. Returns True when it was installed.
    """
    import mlx.core as mx
    import numpy as np

    if mx.metal.is_available():
        return False
    import outlines_core.kernels.mlx as kernels

    def apply_token_bitmask(logits: mx.array, mask: np.ndarray) -> mx.array:
        logits = logits if logits.ndim == 2 else mx.expand_dims(logits, 0)
        bits = np.unpackbits(np.ascontiguousarray(mask).view(np.uint8), axis=-1, bitorder="little")
        allowed = bits[:, : logits.shape[-1]].astype(bool)
        return mx.where(mx.array(allowed), logits, mx.array(-mx.inf, dtype=logits.dtype))

    kernels.apply_token_bitmask = apply_token_bitmask
    return True


def _validity(system: Any, text: str) -> bool:
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return False
    return isinstance(document, dict) and not system.validation_errors(document)


def _stream(loaded: BenchModel, prompt: list[int], cap: int, processor: Any) -> dict[str, Any]:
    """Greedy mlx-lm stream_generate from the prompt tokens, with an optional logits processor."""
    from mlx_lm import stream_generate

    started = time.perf_counter()
    pieces, last = [], None
    for response in stream_generate(loaded.model, loaded.tokenizer, prompt, max_tokens=cap,
                                    logits_processors=[processor] if processor is not None else None):
        pieces.append(response.text)
        last = response
    return {"seconds": time.perf_counter() - started, "tokens": last.generation_tokens if last else 0,
            "hit_cap": bool(last and last.finish_reason == "length"),
            "tokens_per_second": last.generation_tps if last else 0.0, "text": "".join(pieces)}


def _run_naive(loaded: BenchModel, systems: list[Any], cap: int,
               processor_for: Callable[[Any], Any]) -> dict[str, Any]:
    from edge_worker.prompting import build_summary_prompt

    per_summary, tokens, decode_seconds, valid, total, hit_cap = [], 0, 0.0, 0, 0, 0
    for summary in SUMMARIES:
        prompt = build_summary_prompt(loaded.tokenizer, summary)
        started = time.perf_counter()
        for system in systems:
            result = _stream(loaded, prompt.full_tokens(system), cap, processor_for(system))
            tokens += result["tokens"]
            decode_seconds += result["tokens"] / result["tokens_per_second"] if result["tokens_per_second"] else 0.0
            valid += _validity(system, result["text"])
            hit_cap += result["hit_cap"]
            total += 1
        per_summary.append(time.perf_counter() - started)
    return {"seconds_per_summary": sum(per_summary) / len(per_summary), "generated_tokens": tokens,
            "tokens_per_second": tokens / decode_seconds if decode_seconds else 0.0, "valid": valid, "documents": total,
            "hit_cap": hit_cap}


def _run_ours(loaded: BenchModel, systems: list[Any], cap: int) -> dict[str, Any]:
    from edge_worker.translator import Translator

    started = time.perf_counter()
    translator = Translator(loaded.model, loaded.tokenizer, loaded.info, max_tokens=cap)
    for system in systems:
        translator._grammar(system)  # compiled once per schema, like the worker does at start
    setup = time.perf_counter() - started
    translator.translate("warm-up", "A short warm-up summary.", systems[:1])
    per_summary, tokens, decode_seconds, valid, total = [], 0, 0.0, 0, 0
    for index, summary in enumerate(SUMMARIES):
        started = time.perf_counter()
        try:
            translations = translator.translate(f"bench-{index}", summary, systems)
        except Exception as error:  # counted as invalid, never hidden
            progress(f"translation: ours failed: {type(error).__name__}: {error}")
            translations = []
        per_summary.append(time.perf_counter() - started)
        for translation in translations:
            tokens += translation.stats.generated_tokens
            tps = translation.stats.tokens_per_second
            decode_seconds += translation.stats.generated_tokens / tps if tps else 0.0
            valid += not next(s for s in systems if s.name == translation.system).validation_errors(translation.document)
        total += len(systems)
    return {"seconds_per_summary": sum(per_summary) / len(per_summary), "generated_tokens": tokens,
            "tokens_per_second": tokens / decode_seconds if decode_seconds else 0.0, "valid": valid,
            "documents": total, "setup_seconds": setup, "hit_cap": None}


def _run_outlines(loaded: BenchModel, systems: list[Any], cap: int) -> dict[str, Any]:
    import outlines
    from outlines.types import JsonSchema

    shimmed = _cpu_mask_for_outlines()
    model = outlines.from_mlxlm(loaded.model, loaded.tokenizer)
    processors, started = {}, time.perf_counter()
    for system in systems:
        progress(f"translation: Outlines builds its index for {system.name}")
        processors[system.name] = outlines.Generator(model, JsonSchema(json.dumps(system.schema))).logits_processor
    setup = time.perf_counter() - started

    def processor_for(system: Any) -> Any:
        processor = processors[system.name]
        processor.reset()
        return processor

    warm = processor_for(systems[0])
    from edge_worker.prompting import build_summary_prompt

    _stream(loaded, build_summary_prompt(loaded.tokenizer, "A short warm-up summary.").full_tokens(systems[0]), 4, warm)
    result = _run_naive(loaded, systems, cap, processor_for)
    return {**result, "setup_seconds": setup, "cpu_mask_substituted": shimmed}


def run(quick: bool, cap: int) -> dict[str, Any]:
    from schemas.system_definition import load_systems

    shipped = load_systems().systems
    systems = [shipped[name] for name in ("planner", "synapse", "nudge")]
    available, status = outlines_status()
    with tempfile.TemporaryDirectory() as scratch:
        loaded = load_bench_model(quick, Path(scratch))
        progress(f"translation: ours, {len(SUMMARIES)} summaries x {len(systems)} systems, cap {cap} tokens")
        results = {"ours (llguidance, prefix reuse)": _run_ours(loaded, systems, cap)}
        progress("translation: unconstrained mlx-lm")
        results["unconstrained mlx-lm"] = _run_naive(loaded, systems, cap, lambda system: None)
        if available:
            progress("translation: Outlines")
            results[f"Outlines {OUTLINES_PIN} (outlines-core)"] = _run_outlines(loaded, systems, cap)
    return {"model": loaded.label, "summaries": len(SUMMARIES), "systems": [s.name for s in systems], "cap": cap,
            "outlines": status if available else None, "outlines_skipped": None if available else status,
            "results": results}
