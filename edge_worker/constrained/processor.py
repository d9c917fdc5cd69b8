"""The logits processor: llguidance's JSON Schema matcher as an mlx-lm logits processor."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import llguidance
import llguidance.numpy
import mlx.core as mx
import numpy as np

from edge_worker.constrained.bitmask import allowed_tokens
from edge_worker.constrained.budget import BudgetGuard
from edge_worker.constrained.errors import ConstrainedGenerationError, UnsupportedSchemaError
from edge_worker.constrained.grammar import GrammarTokenizer


def use_metal_mask() -> bool:
    """True when logits live on the Apple GPU, where llguidance's Metal kernel applies the mask."""
    return mx.default_device() == mx.gpu and mx.metal.is_available()


def masked_logits(logits: mx.array, bitmask: np.ndarray, vocab_size: int, metal: bool) -> mx.array:
    """`logits` with the tokens the bitmask disallows at -inf (Metal kernel on the GPU, numpy + mx.where on CPU)."""
    if metal:
        import llguidance.mlx

        return llguidance.mlx.apply_token_bitmask(logits, bitmask)
    allowed = allowed_tokens(bitmask, vocab_size)
    vocab = logits.shape[-1]
    if len(allowed) < vocab:
        allowed = np.concatenate([allowed, np.zeros(vocab - len(allowed), dtype=bool)])
    return mx.where(mx.array(allowed[:vocab]), logits, mx.array(-mx.inf, dtype=logits.dtype))


@dataclass
class SchemaConstraint:
    """A logits processor that only allows tokens keeping the output a valid prefix of the schema.

    mlx-lm computes step t+1 before yielding token t, and its processors receive the whole token
    history, so the matcher is synced from that history (never from yielded tokens). A BudgetGuard
    narrows each step so that the document completes within max_tokens.
    """

    gtok: GrammarTokenizer
    grammar: str
    max_tokens: int
    system: str = "?"
    metal: bool | None = None
    # A sound upper bound on the document's tokens (budget.worst_case_tokens); within max_tokens, no guard runs.
    worst_case_tokens: int | None = None
    generated: list[int] = field(default_factory=list)
    mask_seconds: float = 0.0  # host CPU time of this thread: matcher, masks, guard (time.thread_time)
    mask_calls: int = 0

    def __post_init__(self) -> None:
        self.matcher = llguidance.LLMatcher(self.gtok.ll_tokenizer, self.grammar, log_level=0)
        if self.matcher.is_error():
            raise UnsupportedSchemaError(f"system {self.system!r}: {self.matcher.get_error()}")
        if self.metal is None:
            self.metal = use_metal_mask()
        self._prompt_len: int | None = None
        self._bitmask = llguidance.numpy.allocate_token_bitmask(1, self.gtok.vocab_size)
        fits = self.worst_case_tokens is not None and self.worst_case_tokens <= self.max_tokens
        self.guard = None if fits else BudgetGuard(self.matcher, self.gtok, self.max_tokens, self.system)

    @property
    def complete(self) -> bool:
        return self.matcher.is_accepting() or self.matcher.is_stopped()

    @property
    def guard_seconds(self) -> float:
        """The part of mask_seconds spent keeping the output within budget."""
        return self.guard.seconds if self.guard else 0.0

    def sync(self, generated: list[int]) -> None:
        """Consume any generated tokens the matcher has not seen yet."""
        for token in generated[len(self.generated) :]:
            if token in self.gtok.eos_token_ids and self.complete:
                self.generated.append(token)
                continue
            self.consume(token)

    def consume(self, token: int) -> None:
        """Advance the matcher (and the guard) by one token; ConstrainedGenerationError if the grammar refuses it."""
        started = time.thread_time()
        if not self.matcher.consume_token(token):
            raise ConstrainedGenerationError(
                f"system {self.system!r}: token {token} rejected by the grammar: {self.matcher.get_error()}"
            )
        self.generated.append(token)
        if self.guard:
            self.guard.feed(token)
        self.mask_seconds += time.thread_time() - started

    def can_replace(self, count: int, tokens: list[int]) -> bool:
        """Whether the grammar accepts `tokens` in place of the last `count` consumed (the matcher is untouched)."""
        trial = self.matcher.deep_copy()
        trial.rollback(count)
        return not trial.is_error() and trial.validate_tokens(tokens) == len(tokens)

    def rollback(self, count: int) -> None:
        """Forget the last `count` consumed tokens (llguidance's rollback); the budget guard reads the rest again."""
        started = time.thread_time()
        self.matcher.rollback(count)
        del self.generated[len(self.generated) - count :]
        if self.guard:
            self.guard.rewind(self.generated)
        self.mask_seconds += time.thread_time() - started

    def forced_tokens(self) -> list[int]:
        """The tokens the grammar allows as the only continuation from here (llguidance fast-forward tokens)."""
        started = time.thread_time()
        tokens = self.matcher.compute_ff_tokens()
        self.mask_seconds += time.thread_time() - started
        return tokens

    def next_mask(self) -> np.ndarray:
        """The allowed next tokens, narrowed by the guard: a (1, words) int32 bitmask (a fresh array)."""
        started = time.thread_time()
        bitmask = np.empty_like(self._bitmask)
        llguidance.numpy.fill_next_token_bitmask(self.matcher, bitmask)
        if self.guard and not self.complete:
            self.guard.restrict(bitmask, len(self.generated))
        self.mask_seconds += time.thread_time() - started
        self.mask_calls += 1
        return bitmask

    def __call__(self, tokens: mx.array, logits: mx.array) -> mx.array:
        if self._prompt_len is None:
            self._prompt_len = tokens.size
        seen = self._prompt_len + len(self.generated)
        new = np.asarray(tokens[seen:]).tolist() if tokens.size > seen else []  # waits for the previous step's token
        if new:
            self.sync(self.generated + new)  # counts its own time
        started = time.thread_time()  # mask work only, not the wait for the previous step's token
        llguidance.numpy.fill_next_token_bitmask(self.matcher, self._bitmask)
        if self.guard and not self.complete:
            self.guard.restrict(self._bitmask, len(self.generated))
        masked = masked_logits(logits, self._bitmask, self.gtok.vocab_size, bool(self.metal))
        self.mask_seconds += time.thread_time() - started
        self.mask_calls += 1
        return masked
