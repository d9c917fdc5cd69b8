"""Grammar-constrained decoding: llguidance JSON Schema matchers as mlx-lm logits processors."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import llguidance
import llguidance.hf
import llguidance.numpy
import mlx.core as mx
import numpy as np
from mlx_lm.generate import generate_step

from edge_worker.model_thread import Cancelled

# Compact JSON: no free whitespace, so a budget of tokens buys content, not indentation.
JSON_OPTIONS: dict[str, Any] = {"whitespace_flexible": False}
_CLOSERS = set(b'"]}')
# Below this many spare tokens, openers ("{", "[", ",") that would overrun the budget are masked.
OPENER_CHECK_SLACK = 48
# With at most this many allowed tokens (keys, enums, digits, openers) each one is checked ahead.
LOOKAHEAD_CHOICES = 48


class UnsupportedSchemaError(ValueError):
    """The constrained decoder cannot compile a system's JSON Schema."""


class ConstrainedGenerationError(RuntimeError):
    """Generation ended without a complete document (budget exhausted or matcher error)."""


@dataclass(frozen=True)
class GrammarTokenizer:
    """What the matcher needs to know about one tokenizer; built once per tokenizer (about 1 s)."""

    ll_tokenizer: llguidance.LLTokenizer
    eos_token_ids: frozenset[int]
    token_bytes: list[bytes]
    # Tokens that end a document soonest: runs of closing characters and minimal values.
    closing_ids: dict[bytes, int]
    # Tokens that may start a new object, array or item (outside strings).
    opens_structure: np.ndarray
    # Tokens that leave a string needing more bytes before it can close (escape, partial UTF-8).
    opens_in_string: np.ndarray
    # Tokens that can end a string and open something in one go, e.g. '"},{"'.
    quote_then_opens: np.ndarray


_cache: dict[int, tuple[Any, GrammarTokenizer]] = {}
_cache_lock = threading.Lock()
_MINIMAL_VALUES = (b'""', b"null", b"0", b"[]", b"{}", b"false", b'"')
_SHORT_ENDINGS = _MINIMAL_VALUES + (b"Z", b",")


def grammar_tokenizer(tokenizer: Any) -> GrammarTokenizer:
    """The cached GrammarTokenizer for an mlx-lm TokenizerWrapper (or a fast HF tokenizer)."""
    with _cache_lock:
        hit = _cache.get(id(tokenizer))
        if hit is not None and hit[0] is tokenizer:
            return hit[1]
    hf_tokenizer = getattr(tokenizer, "_tokenizer", tokenizer)
    eos_ids = set(getattr(tokenizer, "eos_token_ids", None) or [])
    if hf_tokenizer.eos_token_id is not None:
        eos_ids.add(hf_tokenizer.eos_token_id)
    ll_tokenizer = llguidance.hf.from_tokenizer(hf_tokenizer, eos_token=sorted(eos_ids) or None)
    token_bytes = [ll_tokenizer.decode_bytes([i]) for i in range(ll_tokenizer.vocab_size)]
    closing_ids: dict[bytes, int] = {}
    for token_id, text in enumerate(token_bytes):
        if token_id in eos_ids or ll_tokenizer.is_special_token(token_id):
            continue
        if (text and set(text) <= _CLOSERS) or text in _SHORT_ENDINGS:
            closing_ids.setdefault(text, token_id)
    opens = np.array([any(byte in b"{[," for byte in text) for text in token_bytes], dtype=bool)
    opens_in_string = np.array([_leaves_string_open(text) for text in token_bytes], dtype=bool)
    quote_then_opens = opens & np.array([b'"' in text for text in token_bytes], dtype=bool)
    built = GrammarTokenizer(
        ll_tokenizer, frozenset(eos_ids), token_bytes, closing_ids, opens, opens_in_string, quote_then_opens
    )
    with _cache_lock:
        _cache[id(tokenizer)] = (tokenizer, built)
    return built


def _leaves_string_open(text: bytes) -> bool:
    if b"\\" in text:
        return True
    try:
        text.lstrip(bytes(range(0x80, 0xC0))).decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.reason == "unexpected end of data"
    return False


class _JsonCursor:
    """Tracks whether the output is inside a string and which brackets are open."""

    def __init__(self) -> None:
        self.in_string = False
        self.escaped = False
        self.open: list[int] = []
        self.strings_opened = 0

    def feed(self, data: bytes) -> None:
        for byte in data:
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif byte == 0x5C:  # backslash
                    self.escaped = True
                elif byte == 0x22:
                    self.in_string = False
            elif byte == 0x22:
                self.in_string = True
                self.strings_opened += 1
            elif byte in (0x5B, 0x7B):
                self.open.append(byte + 2)  # '[' -> ']', '{' -> '}'
            elif byte in (0x5D, 0x7D) and self.open:
                self.open.pop()

    def copy(self) -> _JsonCursor:
        twin = _JsonCursor()
        twin.in_string, twin.escaped, twin.open = self.in_string, self.escaped, list(self.open)
        twin.strings_opened = self.strings_opened
        return twin

    def closing_suffix(self) -> bytes:
        return (b'"' if self.in_string else b"") + bytes(reversed(self.open))


# llguidance's own date formats allow year 0000 and 29 February in any year; the validator does not.
_YEAR = r"(?:[0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)"
_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_DATE = rf"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
STRICT_FORMATS = {"date": f"^{_DATE}$", "date-time": f"^{_DATE}T{_TIME}$"}


def grammar_schema(schema: Any) -> Any:
    """The schema the grammar is built from: date formats replaced by patterns the validator agrees with."""
    if isinstance(schema, list):
        return [grammar_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: grammar_schema(value) for key, value in schema.items()}
    if out.get("format") in STRICT_FORMATS and "pattern" not in out:
        out["pattern"] = STRICT_FORMATS[out.pop("format")]
    return out


def compile_schema(schema: dict, gtok: GrammarTokenizer, *, system: str) -> str:
    """The llguidance grammar for a JSON Schema, or UnsupportedSchemaError naming system and problem."""
    try:
        grammar = llguidance.LLMatcher.grammar_from_json_schema(grammar_schema(schema), overrides=JSON_OPTIONS)
    except ValueError as exc:
        raise UnsupportedSchemaError(f"system {system!r}: schema is not a JSON object: {exc}") from exc
    problem = llguidance.LLMatcher.validate_grammar(grammar, gtok.ll_tokenizer)
    if problem:
        raise UnsupportedSchemaError(
            f"system {system!r}: JSON Schema not supported by the constrained decoder: {problem.strip()}"
        )
    return grammar


def use_metal_mask() -> bool:
    """True when logits live on the Apple GPU, where llguidance's Metal kernel applies the mask."""
    return mx.default_device() == mx.gpu and mx.metal.is_available()


@dataclass
class SchemaConstraint:
    """A logits processor that only allows tokens keeping the output a valid prefix of the schema.

    mlx-lm computes step t+1 before yielding token t, and its processors receive the whole token
    history, so the matcher is synced from that history (never from yielded tokens).
    Near the end of the budget it simulates the shortest way to close the document and, when the
    budget gets tight, allows only the token that closes soonest, so output always completes.
    """

    gtok: GrammarTokenizer
    grammar: str
    max_tokens: int
    system: str = "?"
    metal: bool | None = None
    generated: list[int] = field(default_factory=list)
    mask_seconds: float = 0.0
    mask_calls: int = 0
    guard_seconds: float = 0.0  # part of mask_seconds spent keeping the output within budget
    closing_steps: int = 0

    def __post_init__(self) -> None:
        self.matcher = llguidance.LLMatcher(self.gtok.ll_tokenizer, self.grammar, log_level=0)
        if self.matcher.is_error():
            raise UnsupportedSchemaError(f"system {self.system!r}: {self.matcher.get_error()}")
        if self.metal is None:
            self.metal = use_metal_mask()
        self._prompt_len: int | None = None
        self._cursor = _JsonCursor()
        self._bitmask = llguidance.numpy.allocate_token_bitmask(1, self.gtok.ll_tokenizer.vocab_size)
        self._scratch = llguidance.numpy.allocate_token_bitmask(1, self.gtok.ll_tokenizer.vocab_size)
        shortest = self._closing_cost(self.max_tokens)
        if shortest is None:
            raise ConstrainedGenerationError(
                f"system {self.system!r}: the smallest valid document needs more than {self.max_tokens} tokens"
            )
        self._cost_hint, self._hint_at, self._hint_string = shortest, 0, -1

    @property
    def complete(self) -> bool:
        return self.matcher.is_accepting() or self.matcher.is_stopped()

    def sync(self, generated: list[int]) -> None:
        """Consume any generated tokens the matcher has not seen yet."""
        for token in generated[len(self.generated) :]:
            if token in self.gtok.eos_token_ids and self.complete:
                self.generated.append(token)
                continue
            if not self.matcher.consume_token(token):
                raise ConstrainedGenerationError(
                    f"system {self.system!r}: token {token} rejected by the grammar: {self.matcher.get_error()}"
                )
            self.generated.append(token)
            self._cursor.feed(self._bytes(token))

    def __call__(self, tokens: mx.array, logits: mx.array) -> mx.array:
        if self._prompt_len is None:
            self._prompt_len = tokens.size
        seen = self._prompt_len + len(self.generated)
        new = tokens[seen:].tolist() if tokens.size > seen else []  # waits for the previous step's token
        started = time.perf_counter()  # mask work only, not that wait
        if new:
            self.sync(self.generated + new)
        llguidance.numpy.fill_next_token_bitmask(self.matcher, self._bitmask)
        if not self.complete:
            guard_started = time.perf_counter()
            self._keep_within_budget()
            self.guard_seconds += time.perf_counter() - guard_started
        masked = self._apply(logits, self._bitmask)
        self.mask_seconds += time.perf_counter() - started
        self.mask_calls += 1
        return masked

    def _keep_within_budget(self) -> None:
        remaining = self.max_tokens - len(self.generated)
        since = len(self.generated) - self._hint_at
        near = remaining <= 2 * self._cost_hint + OPENER_CHECK_SLACK
        if not near and since < 16:
            return  # far from the end: refresh the estimate every 16 tokens only
        if self._cursor.in_string:
            if near:  # close strings with a plain quote, so the next step's opener check sees "," "{" "["
                self._drop(self.gtok.quote_then_opens)
            if self._hint_string == self._cursor.strings_opened and remaining > self._cost_hint + 8:
                return  # inside one string the cost to finish does not grow
        cost = self._closing_cost(remaining + 1)
        self._cost_hint = cost if cost is not None else remaining
        self._hint_at, self._hint_string = len(self.generated), self._cursor.strings_opened
        allowed = self._allowed(self._bitmask)
        if cost is None or cost + 2 >= remaining:
            choice = self._closing_choice(allowed, self._cursor)
            if choice is not None:
                self._only(choice)
                self.closing_steps += 1
            return
        if self._cursor.in_string and np.count_nonzero(allowed) > LOOKAHEAD_CHOICES:
            self._drop(self.gtok.opens_in_string)  # free text: only escapes and partial characters matter
            return
        if remaining - cost > OPENER_CHECK_SLACK:
            return
        # One token can add many required tokens at once (a new item, an optional key with a long
        # value): drop choices that would leave the document unfinishable in the remaining budget.
        candidates = np.flatnonzero(allowed)
        if len(candidates) > LOOKAHEAD_CHOICES:
            candidates = np.flatnonzero(allowed & self.gtok.opens_structure[: len(allowed)])
        if len(candidates) < 2:
            return
        changed = False
        for token in candidates:
            after = self._closing_cost(remaining, first=int(token))
            if after is None or after + 3 >= remaining:
                allowed[token] = False
                changed = True
        if changed and allowed.any():
            self._bitmask[0] = np.packbits(self._padded(allowed), bitorder="little").view(np.int32)

    def _drop(self, tokens: np.ndarray) -> None:
        """Disallow `tokens` (a boolean vocabulary mask) unless that would leave nothing allowed."""
        allowed = self._allowed(self._bitmask)
        kept = allowed & ~tokens[: len(allowed)]
        if kept.any() and not np.array_equal(kept, allowed):
            self._bitmask[0] = np.packbits(self._padded(kept), bitorder="little").view(np.int32)

    def _only(self, token: int) -> None:
        self._bitmask[0] = 0
        self._bitmask[0, token // 32] = np.uint32(1 << (token % 32)).view(np.int32)

    def _padded(self, allowed: np.ndarray) -> np.ndarray:
        padded = np.zeros(self._bitmask.shape[1] * 32, dtype=bool)
        padded[: len(allowed)] = allowed
        return padded

    def _bytes(self, token: int) -> bytes:
        return self.gtok.token_bytes[token] if token < len(self.gtok.token_bytes) else b""

    def _allowed(self, bitmask: np.ndarray) -> np.ndarray:
        bits = np.unpackbits(bitmask.view(np.uint8), bitorder="little")
        return bits[: self.gtok.ll_tokenizer.vocab_size].astype(bool)

    def _closing_choice(self, allowed: np.ndarray, cursor: _JsonCursor) -> int | None:
        """The allowed token that closes the open string/arrays/objects soonest (deterministic)."""
        suffix = cursor.closing_suffix()
        candidates = [suffix[:k] for k in range(len(suffix), 0, -1)]
        # Inside a string Z can end a date-time; outside, "," moves on to the next required key.
        candidates += [b"Z"] if cursor.in_string else [b","] + list(_MINIMAL_VALUES)
        for text in candidates:
            token_id = self.gtok.closing_ids.get(text)
            if token_id is not None and allowed[token_id]:
                return token_id
        first = np.flatnonzero(allowed)
        return int(first[0]) if len(first) else None

    def _closing_cost(self, limit: int, first: int | None = None) -> int | None:
        """Tokens needed to finish the document from here following the closing policy (None: > limit).

        With `first`, the cost after that token is consumed.
        """
        matcher, cursor = self.matcher.deep_copy(), self._cursor.copy()
        if first is not None:
            if not matcher.consume_token(first):
                return None
            cursor.feed(self._bytes(first))
        for steps in range(limit + 1):
            if matcher.is_accepting() or matcher.is_stopped():
                return steps
            if matcher.is_error():
                return None
            llguidance.numpy.fill_next_token_bitmask(matcher, self._scratch)
            allowed = self._allowed(self._scratch)
            choice = self._closing_choice(allowed, cursor)
            if choice is None:
                return None
            matcher.consume_token(choice)
            cursor.feed(self._bytes(choice))
        return None

    def _apply(self, logits: mx.array, bitmask: np.ndarray) -> mx.array:
        if self.metal:
            import llguidance.mlx

            return llguidance.mlx.apply_token_bitmask(logits, bitmask)
        allowed = self._allowed(bitmask)
        vocab = logits.shape[-1]
        if len(allowed) < vocab:
            allowed = np.concatenate([allowed, np.zeros(vocab - len(allowed), dtype=bool)])
        return mx.where(mx.array(allowed[:vocab]), logits, mx.array(-mx.inf, dtype=logits.dtype))


@dataclass
class Generation:
    tokens: list[int]
    text: str
    prompt_tokens: int
    seconds: float
    first_token_seconds: float
    mask_seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        """Decode speed: tokens after the first over the time after the first (prefill excluded)."""
        decode_seconds = self.seconds - self.first_token_seconds
        return (len(self.tokens) - 1) / decode_seconds if len(self.tokens) > 1 and decode_seconds > 0 else 0.0


def generate_constrained(
    model: Any,
    tokenizer: Any,
    prompt_tokens: list[int],
    constraint: SchemaConstraint | None,
    *,
    max_tokens: int,
    sampler: Callable[[mx.array], mx.array] | None = None,
    prompt_cache: list[Any] | None = None,
    checkpoint: Callable[[], bool] | None = None,
) -> Generation:
    """Generate until the constraint's document is complete (or max_tokens without a constraint).

    prompt_tokens are the tokens not yet in prompt_cache (the whole prompt when there is no cache).
    checkpoint is called once per generated token (mlx_lm has already dispatched the next step) and may
    run other short model work there, on the generation stream; when it returns True, Cancelled is raised.
    """
    started = time.perf_counter()
    eos_ids = set(getattr(tokenizer, "eos_token_ids", None) or [])
    processors = [constraint] if constraint is not None else None
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
        for token, _ in steps:
            if checkpoint is not None and checkpoint():
                raise Cancelled(f"generation stopped after {len(out)} tokens")
            if not out:
                first_token_seconds = time.perf_counter() - started
            if constraint is None and token in eos_ids:
                break
            out.append(token)
            if constraint is not None:
                constraint.sync(out)
                if constraint.complete:
                    break
    seconds = time.perf_counter() - started
    if constraint is not None:
        if out and out[-1] in eos_ids:
            out.pop()
        if not constraint.complete:
            partial = constraint.gtok.ll_tokenizer.decode_bytes(out).decode("utf-8", errors="replace")
            raise ConstrainedGenerationError(
                f"system {constraint.system!r}: output did not complete within {max_tokens} tokens: {partial[-120:]!r}"
            )
    if constraint is not None:  # the exact bytes the grammar accepted (no detokenizer clean-up)
        text = constraint.gtok.ll_tokenizer.decode_bytes(out).decode("utf-8", errors="replace")
    else:
        text = tokenizer.decode(out)
    return Generation(
        tokens=out,
        text=text,
        prompt_tokens=len(prompt_tokens),
        seconds=seconds,
        first_token_seconds=first_token_seconds,
        mask_seconds=constraint.mask_seconds if constraint is not None else 0.0,
    )
