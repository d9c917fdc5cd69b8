"""The end-of-budget guard: keeps a constrained JSON document finishable within its token budget.

Near the end of the budget it simulates the shortest way to close the document (the closing policy:
the allowed token that closes the open string, arrays and objects soonest) and, when the budget gets
tight, allows only that token, so the output always completes.
"""

from __future__ import annotations

import time

import llguidance
import llguidance.numpy
import numpy as np

from edge_worker.constrained.bitmask import allow_only, allowed_tokens, store_allowed
from edge_worker.constrained.errors import ConstrainedGenerationError
from edge_worker.constrained.grammar import MINIMAL_VALUES, GrammarTokenizer

# Below this many spare tokens, openers ("{", "[", ",") that would overrun the budget are masked.
OPENER_CHECK_SLACK = 48
# With at most this many allowed tokens (keys, enums, digits, openers) each one is checked ahead.
LOOKAHEAD_CHOICES = 48


class JsonCursor:
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

    def copy(self) -> JsonCursor:
        twin = JsonCursor()
        twin.in_string, twin.escaped, twin.open = self.in_string, self.escaped, list(self.open)
        twin.strings_opened = self.strings_opened
        return twin

    def closing_suffix(self) -> bytes:
        return (b'"' if self.in_string else b"") + bytes(reversed(self.open))


class BudgetGuard:
    """Narrows each step's allowed tokens so that the document can still close within `max_tokens`.

    `matcher` is the constraint's own matcher (read, never advanced); `feed` every token it consumes.
    Raises ConstrainedGenerationError when even the smallest valid document needs more than `max_tokens`.
    """

    def __init__(self, matcher: llguidance.LLMatcher, gtok: GrammarTokenizer, max_tokens: int, system: str) -> None:
        self.matcher, self.gtok, self.max_tokens = matcher, gtok, max_tokens
        self.cursor = JsonCursor()
        self.seconds = 0.0  # time spent in restrict()
        self._scratch = llguidance.numpy.allocate_token_bitmask(1, gtok.vocab_size)
        shortest = self._closing_cost(max_tokens)
        if shortest is None:
            raise ConstrainedGenerationError(
                f"system {system!r}: the smallest valid document needs more than {max_tokens} tokens"
            )
        self._cost_hint, self._hint_at, self._hint_string = shortest, 0, -1

    def feed(self, token: int) -> None:
        self.cursor.feed(self._bytes(token))

    def restrict(self, bitmask: np.ndarray, generated: int) -> None:
        """Narrow `bitmask` (the matcher's allowed tokens after `generated` tokens) to what fits the budget."""
        started = time.perf_counter()
        self._restrict(bitmask, generated)
        self.seconds += time.perf_counter() - started

    def _restrict(self, bitmask: np.ndarray, generated: int) -> None:
        remaining = self.max_tokens - generated
        since = generated - self._hint_at
        near = remaining <= 2 * self._cost_hint + OPENER_CHECK_SLACK
        if not near and since < 16:
            return  # far from the end: refresh the estimate every 16 tokens only
        if self.cursor.in_string:
            if near:  # close strings with a plain quote, so the next step's opener check sees "," "{" "["
                self._drop(bitmask, self.gtok.quote_then_opens)
            if self._hint_string == self.cursor.strings_opened and remaining > self._cost_hint + 8:
                return  # inside one string the cost to finish does not grow
        cost = self._closing_cost(remaining + 1)
        self._cost_hint = cost if cost is not None else remaining
        self._hint_at, self._hint_string = generated, self.cursor.strings_opened
        allowed = allowed_tokens(bitmask, self.gtok.vocab_size)
        if cost is None or cost + 2 >= remaining:
            choice = self._closing_choice(allowed, self.cursor)
            if choice is not None:
                allow_only(bitmask, choice)
            return
        if self.cursor.in_string and np.count_nonzero(allowed) > LOOKAHEAD_CHOICES:
            self._drop(bitmask, self.gtok.opens_in_string)  # free text: only escapes and partial characters matter
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
            store_allowed(bitmask, allowed)

    def _drop(self, bitmask: np.ndarray, tokens: np.ndarray) -> None:
        """Disallow `tokens` (a boolean vocabulary mask) unless that would leave nothing allowed."""
        allowed = allowed_tokens(bitmask, self.gtok.vocab_size)
        kept = allowed & ~tokens[: len(allowed)]
        if kept.any() and not np.array_equal(kept, allowed):
            store_allowed(bitmask, kept)

    def _bytes(self, token: int) -> bytes:
        return self.gtok.token_bytes[token] if token < len(self.gtok.token_bytes) else b""

    def _closing_choice(self, allowed: np.ndarray, cursor: JsonCursor) -> int | None:
        """The allowed token that closes the open string/arrays/objects soonest (deterministic)."""
        suffix = cursor.closing_suffix()
        candidates = [suffix[:k] for k in range(len(suffix), 0, -1)]
        # Inside a string Z can end a date-time; outside, "," moves on to the next required key.
        candidates += [b"Z"] if cursor.in_string else [b",", *MINIMAL_VALUES]
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
        matcher, cursor = self.matcher.deep_copy(), self.cursor.copy()
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
            choice = self._closing_choice(allowed_tokens(self._scratch, self.gtok.vocab_size), cursor)
            if choice is None:
                return None
            matcher.consume_token(choice)
            cursor.feed(self._bytes(choice))
        return None
