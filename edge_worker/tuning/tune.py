"""Tune one system: score the base model on the held-out split, train a LoRA adapter, score it with the adapter
applied the way the daemon applies it, and adopt it only when held-out F1 improves."""

from __future__ import annotations

import inspect
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge_worker.lora import Adapter, read_adapter
from edge_worker.model_store import (
    ADAPTER_KIND,
    adapter_weights_digest,
    set_adopted_adapter,
    store_adapter,
)
from edge_worker.prompting import prompt_version, served_system
from edge_worker.tuning.data import EVAL_SPLIT, eval_examples, served_examples, token_sequences, training_examples
from edge_worker.tuning.train import Progress, TuneSettings, train_adapter
from schemas.lineage import content_version

TRIAL_KIND = "trial-adapter"  # an adapter under evaluation: named by its weights alone until it is adopted


@dataclass
class TuneResult:
    system: str
    adopted: bool
    f1_before: float
    f1_after: float
    version: str | None = None  # set when adopted
    entry: dict[str, Any] = field(default_factory=dict)  # the translator-adapter registry content
    losses: list[tuple[int, float]] = field(default_factory=list)
    train_seconds: float = 0.0
    message: str = ""


class HeldOut:
    """A system whose `eval` split is cut to its first `limit` examples, and whose `examples` are that split.

    evaluate_system scores `examples` today and is becoming split-aware; either way it sees the held-out ones.
    """

    def __init__(self, system: Any, limit: int | None) -> None:
        self._system, self._eval = system, eval_examples(system, limit)

    @property
    def examples(self) -> tuple[dict[str, Any], ...]:
        return tuple(self._eval)

    def examples_for(self, split: str) -> tuple[dict[str, Any], ...]:
        return tuple(self._eval) if split == EVAL_SPLIT else self._system.examples_for(split)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._system, name)


def held_out_f1(translator: Any, system: Any, limit: int | None = None, progress: Progress | None = None) -> float:
    """Micro F1 (edge_worker.evaluate) of `translator` on the system's held-out `eval` examples."""
    from edge_worker.evaluate import evaluate_system

    held_out = HeldOut(system, limit)
    if not held_out.examples:
        raise ValueError(f"system {system.name!r} has no examples in its {EVAL_SPLIT} split")
    kwargs: dict[str, Any] = {"progress": progress}
    if "split" in inspect.signature(evaluate_system).parameters:
        kwargs["split"] = EVAL_SPLIT
    return float(evaluate_system(translator, held_out, **kwargs).f1)


def adapter_content(
    translator: Any,
    system: Any,
    folder: Path,
    settings: TuneSettings,
    data: dict[str, Any],
    scores: dict[str, Any],
    iterations: int,
) -> dict[str, Any]:
    """The translator-adapter registry entry: what the adapter is (weights and config digest) and how it was made."""
    return {
        "base_model_version": translator.model_version,
        "system": system.name,
        "schema_version": system.schema_version,
        "translator_prompt_version": prompt_version(served_system(system, settings.prompt)),
        "prompt": settings.prompt,
        "weights_digest": adapter_weights_digest(folder),
        "rank": settings.rank,
        "num_layers": settings.num_layers,
        "iterations": iterations,
        "settings": asdict(settings),
        "data": data,
        "eval": scores,
    }


@dataclass
class Trial:
    """An adapter trained for one system and not adopted: its mlx-lm folder, its weights read, how it was made."""

    system: str
    folder: Path
    adapter: Adapter
    losses: list[tuple[int, float]]
    seconds: float
    data: dict[str, Any]  # the training data's counts and digests (training_examples)
    examples: int  # token sequences trained on


def train_trial(
    translator: Any,
    system: Any,
    settings: TuneSettings,
    folder: Path,
    *,
    progress: Progress = lambda message: None,
    deadline: float | None = None,
    train_budget: float | None = None,
) -> Trial:
    """Train an adapter for `system` on `translator`'s model into `folder`, in the prompt `settings.prompt` names
    (the translator serves the system with that prompt while the adapter is applied). `deadline` (time.perf_counter() seconds) or `train_budget` (seconds from the start of training)
    ends training early. Raises ValueError when the system has no training data (or none fits max_seq_length)."""
    examples, data = training_examples(system)
    if not examples:
        raise ValueError(f"system {system.name!r} has no training examples (train split or distilled data)")
    translator.use_adapters({})
    prompt = translator.prompt_for(served_system(system, settings.prompt))
    served = served_examples(system, examples)  # one per decoding the translator serves
    if not served:
        raise ValueError(f"system {system.name!r}: its training examples give the model nothing to decode")
    data = data | {"served_examples": len(served)}
    sequences = token_sequences(prompt, translator.tokenizer, served, settings.mask_prompt)
    # mlx-lm cuts sequences at max_seq_length: one whose answer would be cut away whole has nothing to learn (NaN).
    fitting = [(tokens, offset) for tokens, offset in sequences if offset < settings.max_seq_length - 1]
    if len(fitting) < len(sequences):
        progress(
            f"{system.name}: {len(sequences) - len(fitting)} examples left out: their prompt fills "
            f"max_seq_length {settings.max_seq_length}"
        )
    if not fitting:
        raise ValueError(f"system {system.name!r}: no training example fits max_seq_length {settings.max_seq_length}")
    sequences = fitting
    progress(
        f"{system.name}: training on {len(sequences)} decodings of {len(examples)} examples ({settings.iters} iterations)"
    )
    started = time.perf_counter()
    if train_budget is not None:
        deadline = min(deadline or float("inf"), started + train_budget)
    losses = train_adapter(translator.model, sequences, settings, folder, progress, deadline)
    seconds = round(time.perf_counter() - started, 1)
    adapter = read_adapter(folder, content_version(TRIAL_KIND, {"weights_digest": adapter_weights_digest(folder)}))
    return Trial(system.name, folder, adapter, losses, seconds, data, len(sequences))


def tune_system(
    translator: Any,
    system: Any,
    settings: TuneSettings,
    *,
    eval_limit: int | None = None,
    min_gain: float = 0.0,
    progress: Progress = lambda message: None,
    adopt: Callable[[str, str], Any] | None = set_adopted_adapter,
    deadline: float | None = None,
    train_budget: float | None = None,
) -> TuneResult:
    """Tune `system` on `translator`'s model (a Translator without this system's adapter applied).

    The adapter is adopted (stored under $SSP_HOME/adapters/<version>/ and named in adopted.json through `adopt`)
    only when held-out F1 with it exceeds the base model's by more than `min_gain`; otherwise nothing is stored
    and the system's adoption is left as it was. `deadline` and `train_budget` as for train_trial.
    `eval_limit`: score on the first N held-out examples. `adopt` None only measures: nothing is stored. Raises
    ValueError when the system has no training or eval data.
    """
    if not training_examples(system)[0]:
        raise ValueError(f"system {system.name!r} has no training examples (train split or distilled data)")
    progress(f"{system.name}: scoring the base model on the held-out {EVAL_SPLIT} split")
    translator.use_adapters({})
    before = held_out_f1(translator, system, eval_limit)
    with tempfile.TemporaryDirectory(prefix="adapter-") as scratch:
        folder = Path(scratch)
        trial = train_trial(
            translator, system, settings, folder, progress=progress, deadline=deadline, train_budget=train_budget
        )
        translator.try_adapter(system.name, trial.adapter)
        progress(f"{system.name}: scoring the tuned model on the held-out {EVAL_SPLIT} split")
        try:
            after = held_out_f1(translator, system, eval_limit)
        finally:
            translator.use_adapters({})
        scores = {"split": EVAL_SPLIT, "examples": len(HeldOut(system, eval_limit).examples)}
        scores |= {"f1_before": round(before, 4), "f1_after": round(after, 4)}
        result = TuneResult(system.name, False, before, after, losses=trial.losses, train_seconds=trial.seconds)
        if adopt is None:
            result.message = f"{system.name}: held-out F1 {before:.3f} without the adapter, {after:.3f} with it"
            return result
        if after - before <= min_gain:
            result.message = (
                f"{system.name}: not adopted: held-out F1 {after:.3f} with the adapter vs {before:.3f} without "
                f"(needs a gain above {min_gain:g}); nothing was kept"
            )
            return result
        content = adapter_content(translator, system, folder, settings, trial.data, scores, len(trial.losses))
        version = content_version(ADAPTER_KIND, content)
        store_adapter(folder, version, content)
    adopt(system.name, version)  # after the copy is whole: adopted.json never names a missing adapter
    result.adopted, result.version, result.entry = True, version, content
    result.message = f"{system.name}: adopted {version}: held-out F1 {before:.3f} -> {after:.3f}"
    return result
