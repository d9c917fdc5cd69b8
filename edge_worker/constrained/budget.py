"""The end-of-budget guard: keeps a constrained JSON document finishable within its token budget.

Near the end of the budget it simulates the shortest way to close the document (the closing policy:
the allowed token that closes the open string, arrays and objects soonest) and, when the budget gets
tight, allows only that token, so the output always completes.
"""

from __future__ import annotations

import json
import time
from typing import Any

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
        self.seconds = 0.0  # CPU time of this thread spent in restrict()
        self._scratch = llguidance.numpy.allocate_token_bitmask(1, gtok.vocab_size)
        shortest = self._closing_cost(max_tokens)
        if shortest is None:
            raise ConstrainedGenerationError(
                f"system {system!r}: the smallest valid document needs more than {max_tokens} tokens"
            )
        self._cost_hint, self._hint_at, self._hint_string = shortest, 0, -1

    def feed(self, token: int) -> None:
        self.cursor.feed(self._bytes(token))

    def rewind(self, tokens: list[int]) -> None:
        """Start over from the document made of `tokens` (after the matcher rolled back)."""
        self.cursor = JsonCursor()
        for token in tokens:
            self.feed(token)
        self._hint_at, self._hint_string = -self.max_tokens, -1  # estimate again at the next step

    def restrict(self, bitmask: np.ndarray, generated: int) -> None:
        """Narrow `bitmask` (the matcher's allowed tokens after `generated` tokens) to what fits the budget."""
        started = time.thread_time()
        self._restrict(bitmask, generated)
        self.seconds += time.thread_time() - started

    def _restrict(self, bitmask: np.ndarray, generated: int) -> None:
        remaining = self.max_tokens - generated
        since = generated - self._hint_at
        spare = remaining - 2 * self._cost_hint - OPENER_CHECK_SLACK
        near = spare <= 0
        if not near and since < max(16, spare // 8):
            return  # far from the end: refresh the estimate less often the farther it is
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
        for text in self._closing_candidates(cursor):
            token_id = self.gtok.closing_ids.get(text)
            if token_id is not None and allowed[token_id]:
                return token_id
        first = np.flatnonzero(allowed)
        return int(first[0]) if len(first) else None

    @staticmethod
    def _closing_candidates(cursor: JsonCursor) -> list[bytes]:
        """Token texts in the order the closing policy prefers them."""
        suffix = cursor.closing_suffix()
        candidates = [suffix[:k] for k in range(len(suffix), 0, -1)]
        # Inside a string Z can end a date-time; outside, "," moves on to the next required key.
        return candidates + ([b"Z"] if cursor.in_string else [b",", *MINIMAL_VALUES])

    def _closing_cost(self, limit: int, first: int | None = None) -> int | None:
        """Tokens needed to finish the document from here following the closing policy (None: > limit).

        With `first`, the cost after that token is consumed.
        """
        matcher, cursor = self.matcher.deep_copy(), self.cursor.copy()
        if first is not None:
            if not matcher.consume_token(first):
                return None
            cursor.feed(self._bytes(first))
        steps = 0
        while steps <= limit:
            if matcher.is_accepting() or matcher.is_stopped():
                return steps
            if matcher.is_error():
                return None
            forced = matcher.compute_ff_tokens()  # what the decoder takes from the grammar, as it does
            step = None if forced else self._closing_step(matcher, cursor)
            if not forced and step is None:
                return None
            choices = forced or [int(step or 0)]
            for token in choices:
                matcher.consume_token(token)
                cursor.feed(self._bytes(token))
            steps += len(choices)
        return None

    def _closing_step(self, matcher: llguidance.LLMatcher, cursor: JsonCursor) -> int | None:
        """_closing_choice without a full mask: the preferred closers are checked one by one first."""
        for text in self._closing_candidates(cursor):
            token_id = self.gtok.closing_ids.get(text)
            if token_id is not None and matcher.validate_tokens([token_id]) == 1:
                return token_id
        llguidance.numpy.fill_next_token_bitmask(matcher, self._scratch)
        return self._closing_choice(allowed_tokens(self._scratch, self.gtok.vocab_size), cursor)


# Bytes a JSON string may spend on one code point: a surrogate pair of \uXXXX escapes.
_BYTES_PER_CHAR = 12


def worst_case_tokens(schema: Any) -> int | None:
    """A sound upper bound on the tokens of any compact JSON document the schema allows, or None (unbounded).

    Every token but EOS decodes to at least one byte, so bytes + 1 bounds the tokens. Bounded by construction:
    strings with maxLength (or a date format), arrays with maxItems, objects that allow no other properties,
    enums, consts, booleans, null and integers between minimum and maximum.
    """
    size = _worst_case_bytes(schema)
    return None if size is None else size + 1


def _worst_case_bytes(schema: Any) -> int | None:
    if schema is False:
        return 0  # admits nothing (e.g. a date the summary gives no value for): it writes no byte
    if schema is True or not isinstance(schema, dict):
        return None
    if any(key in schema for key in ("$ref", "allOf", "not", "if", "patternProperties", "prefixItems")):
        return None
    if "const" in schema:
        return _literal_bytes(schema["const"])
    if "enum" in schema:
        return max((_literal_bytes(value) for value in schema["enum"]), default=0)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        sizes = [
            _worst_case_bytes({**{k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}, **o})
            for o in options
            if o is not False
        ] or [0]
        return None if any(size is None for size in sizes) else max(sizes)  # type: ignore[type-var]
    kind = schema.get("type")
    if isinstance(kind, list):
        sizes = [_worst_case_bytes({**schema, "type": one}) for one in kind]
        return None if any(size is None for size in sizes) or not sizes else max(sizes)  # type: ignore[type-var]
    if kind == "null":
        return 4
    if kind == "boolean":
        return 5
    if kind == "integer" and "minimum" in schema and "maximum" in schema:
        return max(len(str(int(schema["minimum"]))), len(str(int(schema["maximum"]))))
    if kind == "string":
        if "maxLength" in schema:
            return 2 + _BYTES_PER_CHAR * int(schema["maxLength"])
        if schema.get("format") == "date" and "pattern" not in schema:
            return 2 + _BYTES_PER_CHAR * 10
        return None
    if kind == "array":
        if "maxItems" not in schema:
            return None
        count = int(schema["maxItems"])
        item = _worst_case_bytes(schema.get("items", {})) if count else 0
        return None if item is None else 2 + count * item + max(count - 1, 0)
    if kind == "object" or "properties" in schema:
        if schema.get("additionalProperties", True) is not False:
            return None
        total = 2
        for name, sub in schema.get("properties", {}).items():
            if sub is False:
                continue  # a property that cannot be written
            value = _worst_case_bytes(sub)
            if value is None:
                return None
            total += 2 + _BYTES_PER_CHAR * len(name) + 1 + value + 1  # "key":value,
        return total
    return None


def _literal_bytes(value: Any) -> int:
    if isinstance(value, str):
        return 2 + _BYTES_PER_CHAR * len(value)
    if isinstance(value, list):
        return 2 + sum(_literal_bytes(item) + 1 for item in value)
    if isinstance(value, dict):
        return 2 + sum(_literal_bytes(str(key)) + 1 + _literal_bytes(item) + 1 for key, item in value.items())
    return len(json.dumps(value))
