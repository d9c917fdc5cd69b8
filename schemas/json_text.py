"""JSON text read strictly, as every part of the pipeline keeps it: numbers only as RFC 8259 writes them (no NaN or
Infinity, none out of a double's range)."""

from __future__ import annotations

import json
import math
from typing import Any


class InvalidJson(ValueError):
    """The text is not JSON the pipeline can keep; the message names the problem (and its line and column)."""


def strict_loads(text: str) -> Any:
    """`text` parsed as JSON. Raises InvalidJson for a syntax error, NaN or Infinity, a number out of range, an
    integer longer than Python converts, or nesting deeper than the parser's recursion limit."""
    try:
        return json.loads(text, parse_constant=_not_a_number, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise InvalidJson(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise InvalidJson("nested too deeply") from None
    except InvalidJson:
        raise
    except ValueError as exc:  # an integer literal longer than Python converts
        raise InvalidJson(str(exc)) from None


def _not_a_number(name: str) -> Any:
    raise InvalidJson(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    if not math.isfinite(value := float(text)):
        raise InvalidJson(f"the number {text[:40]} is out of range")
    return value
