"""Grammar compile: a tokenizer as llguidance sees it, and a system's JSON Schema as an llguidance grammar."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import llguidance
import llguidance.hf
import numpy as np

from edge_worker.constrained.errors import UnsupportedSchemaError

if TYPE_CHECKING:
    from llguidance._lib import JsonCompileOptions

# Compact JSON: no free whitespace, so a budget of tokens buys content, not indentation.
JSON_OPTIONS: JsonCompileOptions = {"whitespace_flexible": False}
_CLOSERS = set(b'"]}')
# The shortest complete values, in the order the end-of-budget guard prefers them.
MINIMAL_VALUES = (b'""', b"null", b"0", b"[]", b"{}", b"false", b'"')
_SHORT_ENDINGS = (*MINIMAL_VALUES, b"Z", b",")


@dataclass(frozen=True)
class GrammarTokenizer:
    """What the matcher and the budget guard need to know about one tokenizer; built once per tokenizer (about 1 s)."""

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

    @property
    def vocab_size(self) -> int:
        return self.ll_tokenizer.vocab_size

    def decode(self, tokens: list[int]) -> str:
        """The exact bytes of `tokens` as text (no detokenizer clean-up)."""
        return self.ll_tokenizer.decode_bytes(tokens).decode("utf-8", errors="replace")


_cache: dict[int, tuple[Any, GrammarTokenizer]] = {}
_cache_lock = threading.Lock()


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
    out = {key: _keyword(key, value) for key, value in schema.items()}
    if out.get("format") in STRICT_FORMATS and "pattern" not in out:
        out["pattern"] = STRICT_FORMATS[out.pop("format")]
    if isinstance(out.get("pattern"), str):
        out["pattern"] = ecma_dots(out["pattern"])
    return out


_DATA = ("enum", "const", "default", "examples")  # keywords whose values are data, not schemas
_NAMED = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")  # name -> schema maps


def _keyword(key: str, value: Any) -> Any:
    if key in _DATA:
        return value
    if key in _NAMED and isinstance(value, dict):
        return {name: grammar_schema(sub) for name, sub in value.items()}
    return grammar_schema(value)


_ECMA_DOT = "[^\n\r\u2028\u2029]"


def ecma_dots(pattern: str) -> str:
    """`pattern` with each `.` outside a character class spelled as the class ECMA-262 gives it (any character but
    \\n, \\r, U+2028 and U+2029); llguidance's `.` also takes the last three, which the cloud's validator refuses."""
    out, escaped, in_class = [], False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == ".":
            out.append(_ECMA_DOT)
            continue
        out.append(char)
    return "".join(out)


def compile_schema(schema: dict[str, Any], gtok: GrammarTokenizer, *, system: str) -> str:
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
