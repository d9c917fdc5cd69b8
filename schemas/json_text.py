"""JSON text read strictly, as every part of the pipeline keeps it: numbers only as RFC 8259 writes them (no NaN or
Infinity, none out of a double's range)."""

from __future__ import annotations

import json
import math
import re
from typing import Any


class InvalidJson(ValueError):
    """The text is not JSON the pipeline can keep; the message names the problem (and its line and column)."""


def strict_loads(text: str) -> Any:
    """`text` parsed as JSON. Raises InvalidJson for a syntax error, NaN or Infinity, a number out of range, an
    integer longer than Python converts, a key repeated in one object (RFC 8259 §4: names SHOULD be unique; readers
    then disagree on which value holds), a string with an unpaired surrogate escape ("\\ud83d", which no UTF-8 store
    can keep), or nesting deeper than the parser's recursion limit."""
    try:
        value = json.loads(text, parse_constant=_not_a_number, parse_float=_finite, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise InvalidJson(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise InvalidJson("nested too deeply") from None
    except InvalidJson:
        raise
    except ValueError as exc:  # an integer literal longer than Python converts
        raise InvalidJson(str(exc)) from None
    surrogate = _unpaired_surrogate(value)
    if surrogate:
        raise InvalidJson(
            f"a string holds an unpaired surrogate (\\u{ord(surrogate):04x}); strings must be valid Unicode"
        )
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")  # in a Python str a surrogate is always unpaired (pairs are decoded)


def without_unpaired_surrogates(text: str) -> str:
    """`text` with each unpaired surrogate (which UTF-8 cannot encode) replaced by U+FFFD, as a decoder would."""
    return _SURROGATE.sub("\ufffd", text)


def _unpaired_surrogate(value: Any) -> str | None:
    """The first unpaired surrogate in any string or key of a parsed JSON value, else None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found = _SURROGATE.search(item)
            if found:
                return found.group(0)
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type: object, array, string, number, boolean or null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    names = {dict: "object", list: "array", str: "string", int: "number", float: "number"}
    return next((name for kind, name in names.items() if isinstance(value, kind)), type(value).__name__)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise InvalidJson(f"the key {key[:80]!r} appears twice in one object")
        seen.add(key)
    return dict(pairs)


def _not_a_number(name: str) -> Any:
    raise InvalidJson(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    if not math.isfinite(value := float(text)):
        raise InvalidJson(f"the number {text[:40]} is out of range")
    return value
