"""The generation loop: mlx-lm's generate_step under a SchemaConstraint, until the document is complete."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mlx.core as mx
from mlx_lm.generate import generate_step

from edge_worker.constrained.errors import ConstrainedGenerationError
from edge_worker.constrained.processor import SchemaConstraint
from edge_worker.model_thread import Cancelled

LogitsProcessor = Callable[[mx.array, mx.array], mx.array]


@dataclass
class Generation:
    tokens: list[int]
    text: str
    seconds: float
    first_token_seconds: float

    @property
    def tokens_per_second(self) -> float:
        """Decode speed: tokens after the first over the time after the first (prefill excluded)."""
        decode_seconds = self.seconds - self.first_token_seconds
        return (len(self.tokens) - 1) / decode_seconds if len(self.tokens) > 1 and decode_seconds > 0 else 0.0


def generate_constrained(
    model: Any,
    tokenizer: Any,
    prompt_tokens: list[int],
    constraint: SchemaConstraint,
    *,
    max_tokens: int,
    sampler: Callable[[mx.array], mx.array] | None = None,
    prompt_cache: list[Any] | None = None,
    checkpoint: Callable[[], bool] | None = None,
) -> Generation:
    """Generate until the constraint's document is complete.

    prompt_tokens are the tokens not yet in prompt_cache (the whole prompt when there is no cache).
    checkpoint is called once per generated token (mlx_lm has already dispatched the next step) and may
    run other short model work there, on the generation stream; when it returns True, Cancelled is raised.
    Raises ConstrainedGenerationError when the document is not complete within max_tokens.
    """
    started = time.perf_counter()
    eos_ids = set(getattr(tokenizer, "eos_token_ids", None) or [])
    processors: list[LogitsProcessor] = [constraint]
    out: list[int] = []
    first_token_seconds = 0.0
    steps = generate_step(
        mx.array(prompt_tokens),
        model,
        max_tokens=max_tokens,
        sampler=sampler,
        logits_processors=processors,
        prompt_cache=prompt_cache,
    )
    # Closed here, not whenever it is garbage-collected: its MLX stream context must end on this thread.
    with contextlib.closing(steps):
        for step_token, _ in steps:
            token = int(step_token)  # generate_step yields Python ints (y.item()) despite its annotation
            if checkpoint is not None and checkpoint():
                raise Cancelled(f"generation stopped after {len(out)} tokens")
            if not out:
                first_token_seconds = time.perf_counter() - started
            out.append(token)
            constraint.sync(out)
            if constraint.complete:
                break
    seconds = time.perf_counter() - started
    if out and out[-1] in eos_ids:
        out.pop()
    if not constraint.complete:
        raise ConstrainedGenerationError(
            f"system {constraint.system!r}: output did not complete within {max_tokens} tokens: "
            f"{constraint.gtok.decode(out)[-120:]!r}"
        )
    # The exact bytes the grammar accepted (no detokenizer clean-up).
    return Generation(out, constraint.gtok.decode(out), seconds, first_token_seconds)
