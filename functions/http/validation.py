"""What a client sent, shown in an error message at a bounded length, and JSON Schema problems worded with it."""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

SHOWN_CHARS = 80  # of a value the client sent
MAX_PROBLEM_CHARS = 400  # of one whole problem, whatever the validator wrote
MAX_VALUES_REWORDED = 20  # long values looked for in one problem; the cap above bounds the rest


def clipped(text: str, limit: int = SHOWN_CHARS) -> str:
    """`text` itself when at most `limit` characters long, else its first `limit` then `… (N characters)`."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def shown(value: Any, limit: int = SHOWN_CHARS) -> str:
    """`value` as Python writes it (a string quoted), for a message: past `limit` characters, its first `limit`
    then `… (N characters)`, N the length of the whole string (of the whole repr for other values)."""
    if isinstance(value, str):
        return repr(value) if len(value) <= limit else f"{value[:limit]!r}… ({len(value)} characters)"
    return clipped(repr(value), limit)


def schema_problem(error: ValidationError) -> str:
    """`at <path>: <message>` for one JSON Schema error; each value the document holds (and each key of the object
    refused) appears `shown`, and the whole at most about MAX_PROBLEM_CHARS characters."""
    at = "/".join(clipped(str(part)) for part in error.absolute_path) or "(root)"
    message = error.message
    instance = error.instance
    members = [*instance.keys(), *instance.values()] if isinstance(instance, dict) else []
    members += instance if isinstance(instance, list) else []
    long_reprs = ((text, value) for value in [instance, *members] if len(text := repr(value)) > SHOWN_CHARS + 2)
    for text, value in islice(long_reprs, MAX_VALUES_REWORDED):
        message = message.replace(text, shown(value))
    return f"at {at}: {clipped(message, MAX_PROBLEM_CHARS)}"
