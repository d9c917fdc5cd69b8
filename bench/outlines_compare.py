"""Our translator vs Outlines (mlx-lm integration) vs unconstrained mlx-lm: same model, prompt, schemas, budget.

Every system gets the same prompt tokens (our translation prompt, prefilled once and shared by the three
decoders) and the same cap on generated tokens, so the comparison isolates constrained decoding.
"""

from __future__ import annotations

import copy
import json
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.models import BenchModel, load_bench_model
from bench.progress import progress

OUTLINES_PIN = "1.3.3"
GUARDED = ("mlx", "mlx-lm", "transformers")  # installing Outlines must leave the project's pins of these alone
CONSTRAINTS = Path(__file__).resolve().parents[1] / "constraints.txt"
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
    pins = dict(
        line.strip().split("==", 1)
        for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.lstrip().startswith("#")
    )
    moved = [
        f"{name} {metadata.version(name)} (constraints.txt pins {pins[name]})"
        for name in GUARDED
        if name in pins and metadata.version(name) != pins[name]
    ]
    if moved:
        return False, "installing Outlines changed pinned packages: " + ", ".join(moved)
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


def _valid(system: Any, text: str) -> bool:
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return False
    return isinstance(document, dict) and not system.validation_errors(document)


def _prefill(model: Any, cache: list[Any], tokens: list[int]) -> None:
    import mlx.core as mx

    if tokens:
        model(mx.array(tokens)[None], cache=cache)
        mx.eval([c.state for c in cache])


def _decode(
    loaded: BenchModel,
    cache: list[Any],
    last_token: int,
    cap: int,
    processor: Any,
    on_token: Callable[[list[int]], bool],
) -> tuple[list[int], float]:
    """Greedy decode from a prefilled cache; stops at EOS, at the cap, or when on_token says done."""
    import mlx.core as mx
    from mlx_lm.generate import generate_step

    eos = set(loaded.tokenizer.eos_token_ids)
    out: list[int] = []
    started = time.perf_counter()
    for token, _ in generate_step(
        mx.array([last_token]),
        loaded.model,
        max_tokens=cap,
        logits_processors=[processor] if processor is not None else None,
        prompt_cache=cache,
    ):
        if token in eos and processor is None:
            break
        out.append(token)
        if on_token(out) or token in eos:
            break
    return out, time.perf_counter() - started


class _Engine:
    """One way of decoding: a processor per system, how to read its text, whether it is done."""

    def __init__(
        self,
        name: str,
        setup_seconds: float,
        processor_for: Callable[[Any], Any],
        text_of: Callable[[Any, list[int]], str],
        done: Callable[[Any, list[int]], bool],
    ):
        self.name, self.setup_seconds = name, setup_seconds
        self.processor_for, self.text_of, self.done = processor_for, text_of, done
        self.tokens = self.valid = self.documents = self.hit_cap = self.failures = self.mask_calls = 0
        self.seconds = self.mask_seconds = self.guard_seconds = 0.0

    def count_mask_work(self, processor: Any) -> None:
        """Our constraint times its own per-token work; the other decoders do not."""
        self.mask_calls += getattr(processor, "mask_calls", 0)
        self.mask_seconds += getattr(processor, "mask_seconds", 0.0)
        self.guard_seconds += getattr(processor, "guard_seconds", 0.0)


def _ours(loaded: BenchModel, systems: list[Any], cap: int) -> _Engine:
    from edge_worker.constrained import SchemaConstraint, compile_schema, grammar_tokenizer

    started = time.perf_counter()
    gtok = grammar_tokenizer(loaded.tokenizer)
    grammars = {s.name: compile_schema(s.schema, gtok, system=s.name) for s in systems}
    setup = time.perf_counter() - started

    def processor_for(system: Any) -> Any:
        return SchemaConstraint(
            gtok, grammars[system.name], max_tokens=min(cap, system.max_output_tokens), system=system.name
        )

    def done(processor: Any, out: list[int]) -> bool:
        processor.sync(out)
        return processor.complete

    def text_of(processor: Any, out: list[int]) -> str:
        tokens = [t for t in out if t not in gtok.eos_token_ids]
        return gtok.ll_tokenizer.decode_bytes(tokens).decode("utf-8", errors="replace")

    return _Engine("ours as a logits processor (no fast-forward)", setup, processor_for, text_of, done)


def _plain_text(loaded: BenchModel) -> Callable[[Any, list[int]], str]:
    eos = set(loaded.tokenizer.eos_token_ids)
    return lambda processor, out: loaded.tokenizer.decode([t for t in out if t not in eos])


def _unconstrained(loaded: BenchModel) -> _Engine:
    return _Engine("unconstrained mlx-lm", 0.0, lambda system: None, _plain_text(loaded), lambda p, out: False)


def _outlines(loaded: BenchModel, systems: list[Any]) -> tuple[_Engine, bool]:
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
        processor.reset()  # what Outlines' Generator does before each call
        return processor

    return _Engine(
        f"Outlines {OUTLINES_PIN} (outlines-core)", setup, processor_for, _plain_text(loaded), lambda p, out: False
    ), shimmed


def _measure(
    loaded: BenchModel, systems: list[Any], cap: int, engines: list[_Engine], summaries: tuple[str, ...]
) -> float:
    """Each system's prompt for a summary is prefilled once (its stable prefix from the translator's cache, then
    the summary's own tokens) and shared; every engine decodes from a copy.

    Returns the prompt-processing seconds per summary (each system's summary tokens; the prefixes are cached).
    """
    from edge_worker.translator import Translator, prefix_cache_dir

    folder = None if loaded.label.startswith("tiny") else prefix_cache_dir()
    translator = Translator(loaded.model, loaded.tokenizer, loaded.info, prefix_cache_dir=folder)
    prompt_seconds = 0.0
    for index, summary in enumerate(summaries):
        for system in systems:
            progress(f"translation: summary {index + 1}/{len(summaries)}, {system.name}: prompt")
            cache, suffix = translator.prefix_cache(system, summary)
            started = time.perf_counter()
            _prefill(loaded.model, cache, suffix[:-1])
            prompt_seconds += time.perf_counter() - started
            for engine in engines:
                progress(f"translation: summary {index + 1}/{len(summaries)}, {system.name}: {engine.name}")
                processor = engine.processor_for(system)
                started = time.perf_counter()
                try:
                    out, seconds = _decode(
                        loaded,
                        copy.deepcopy(cache),
                        suffix[-1],
                        cap,
                        processor,
                        lambda tokens, engine=engine, processor=processor: engine.done(processor, tokens),
                    )
                except Exception as error:  # an engine failure is an invalid document, reported
                    progress(f"translation: {engine.name} failed on {system.name}: {type(error).__name__}: {error}")
                    out, seconds = [], time.perf_counter() - started
                    engine.failures += 1
                engine.seconds += seconds
                engine.count_mask_work(processor)
                engine.tokens += len(out)
                engine.documents += 1
                engine.hit_cap += len(out) >= cap
                engine.valid += _valid(system, engine.text_of(processor, out))
    return prompt_seconds / len(summaries)


def run(quick: bool, cap: int, summaries: int) -> dict[str, Any]:
    from schemas.system_definition import load_systems

    shipped = load_systems().systems
    systems = [shipped[name] for name in ("planner", "synapse", "nudge")]
    available, status = outlines_status()
    chosen = SUMMARIES[:summaries]
    with tempfile.TemporaryDirectory() as scratch:
        loaded = load_bench_model(quick, Path(scratch))
        engines = [_ours(loaded, systems, cap), _unconstrained(loaded)]
        shimmed = False
        if available:
            outlines_engine, shimmed = _outlines(loaded, systems)
            engines.append(outlines_engine)
        progress(f"translation: {len(chosen)} summaries x {len(systems)} systems x {len(engines)} decoders, cap {cap}")
        prompt_seconds = _measure(loaded, systems, cap, engines, chosen)
    results = {}
    for engine in engines:
        decode_per_summary = engine.seconds / len(chosen)
        tokens_per_second = engine.tokens / engine.seconds if engine.seconds else 0.0
        results[engine.name] = {
            **_mask_figures(engine, tokens_per_second),
            "tokens_per_second": tokens_per_second,
            "decode_seconds_per_summary": decode_per_summary,
            "seconds_per_summary": prompt_seconds + decode_per_summary,
            "generated_tokens": engine.tokens,
            "valid": engine.valid,
            "documents": engine.documents,
            "hit_cap": engine.hit_cap,
            "failures": engine.failures,
            "setup_seconds": engine.setup_seconds,
        }
    return {
        "model": loaded.label,
        "summaries": len(chosen),
        "systems": [s.name for s in systems],
        "cap": cap,
        "prompt_seconds_per_summary": prompt_seconds,
        "cpu_mask_substituted": shimmed,
        "outlines": status if available else None,
        "outlines_skipped": None if available else status,
        "results": results,
    }


def _mask_figures(engine: _Engine, tokens_per_second: float) -> dict[str, Any]:
    """Mask work per token (µs) and its share of a decoding step, where the decoder measures it."""
    if not engine.mask_calls or not tokens_per_second:
        return {}
    mask_us = engine.mask_seconds / engine.mask_calls * 1e6
    return {
        "mask_us_per_token": round(mask_us, 1),
        "mask_share_of_step": round(mask_us * tokens_per_second / 1e6, 4),
        "budget_guard_us_per_token": round(engine.guard_seconds / engine.mask_calls * 1e6, 1),
    }
