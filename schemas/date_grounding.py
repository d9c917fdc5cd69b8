"""Dates grounded in the summary: the summarizer writes every date as an absolute YYYY-MM-DD
(functions/summarize/prompt.py), so a system may require each date in its document to be one of those.

`grounded(schema, summary)` narrows every `format: date` string to an enum of the summary's dates and every
`format: date-time` to a pattern whose date part is one of them, at any time, with one of the UTC offsets the
summary writes (Z when it writes none), or to no value when the summary writes no date; every document the
narrowed schema admits is valid against the original.
"""

from __future__ import annotations

import copy
import datetime
import re
from typing import Any

ISO_DATE = re.compile(r"(?<![0-9])([0-9]{4}-[0-9]{2}-[0-9]{2})(?![0-9])")
_OFFSET = r"[+-](?:[01][0-9]|2[0-3]):[0-5][0-9]"
# "(+01:00)", "GMT-05:00", "15:00+01:00", "15:00:00-05:00"; not the end of a range such as "10:00-11:00".
UTC_OFFSET = re.compile(rf"(?:(?<![0-9:])|(?<=[0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}})|(?<=[0-9](?=\+)))({_OFFSET})(?![0-9:])")
_VALUES = ("enum", "const", "default", "examples")  # keywords whose values are data, not schemas
_FIXED = ("enum", "const", "pattern", "minLength", "maxLength")  # a string shaped by these is left alone
TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?"
CLOCK = re.compile(r"(?<![0-9:])((?:[01][0-9]|2[0-3]):[0-5][0-9])(?![0-9]|:[0-9])")


def summary_dates(summary: str) -> list[str]:
    """The valid calendar dates written as YYYY-MM-DD in `summary`, in order of first appearance."""
    found: list[str] = []
    for text in ISO_DATE.findall(summary):
        try:
            datetime.date.fromisoformat(text)
        except ValueError:
            continue
        if text not in found:
            found.append(text)
    return found


def summary_offsets(summary: str) -> list[str]:
    """The UTC offsets written in `summary` ("+09:00", "-05:00"), in order of first appearance; ["Z"] for none."""
    found = list(dict.fromkeys(UTC_OFFSET.findall(summary)))
    return found or ["Z"]


def summary_times(text: str) -> list[str]:
    """The times of day written as HH:MM in `text` ("10:00", "09:20"; not UTC offsets), in order of first
    appearance."""
    return list(dict.fromkeys(CLOCK.findall(UTC_OFFSET.sub(" ", text))))


def grounded(schema: dict[str, Any], summary: str, bullet: str | None = None) -> dict[str, Any]:
    """`schema` with its date and date-time strings limited to the dates `summary` writes (none when it writes
    none: a date the model wrote would be invented); the schema itself when it has no date, or when it writes none
    and every document must hold a date. With `bullet` (one line of the summary, read
    alone: schemas.bullet_items), the dates are the bullet's own, and a date-time's time is one the bullet writes
    when it writes any; a bullet that writes no date leaves them no value (the `false` schema: a nullable date is
    null, an `anyOf` takes another branch), as the summarizer writes every date it resolves."""
    dates = summary_dates(summary)
    if not dates and needs_date(schema, schema):
        return schema  # a document that must hold a date: nothing in the summary to ground it on
    dates = summary_dates(bullet) if bullet is not None else dates
    offsets = "|".join(re.escape(offset) for offset in summary_offsets(summary))
    times = summary_times(bullet) if bullet is not None else []
    time = f"(?:{'|'.join(f'{clock}:00' for clock in times)})" if times else TIME
    date_time = f"^(?:{'|'.join(dates)})T{time}(?:{offsets})$"
    narrowed = _narrow(copy.deepcopy(schema), dates, date_time)
    return schema if narrowed == schema else narrowed


def needs_date(
    root: dict[str, Any],
    node: Any,
    formats: tuple[str, ...] = ("date", "date-time"),
    seen: frozenset[str] = frozenset(),
) -> bool:
    """True when every instance of `node` (a subschema of `root`) holds a string of one of `formats` that grounding
    narrows: through required properties, `minItems` items, every `anyOf`/`oneOf` branch and local "#/" refs."""
    if not isinstance(node, dict):
        return False
    if _narrowed(node) and node.get("format") in formats:
        return True

    def needs(child: Any, more: frozenset[str] = seen) -> bool:
        return needs_date(root, child, formats, more)

    ref = node.get("$ref")
    if isinstance(ref, str) and ref not in seen and needs(local_ref(root, ref), seen | {ref}):
        return True
    branches = [node[key] for key in ("anyOf", "oneOf") if isinstance(node.get(key), list)]
    if any(branch and all(needs(item) for item in branch) for branch in branches):
        return True
    every = node.get("allOf")
    if isinstance(every, list) and any(needs(item) for item in every):
        return True
    properties = node.get("properties", {})
    if any(needs(properties.get(name)) for name in node.get("required", [])):
        return True
    return node.get("minItems", 0) > 0 and needs(node.get("items"))


def local_ref(root: dict[str, Any], ref: Any) -> Any:
    """The subschema of `root` a local reference ("#/$defs/task") names; None for no or another reference."""
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return None
    target: Any = root
    for key in ref[2:].split("/"):
        target = target.get(key, {}) if isinstance(target, dict) else {}
    return target


def _narrowed(node: dict[str, Any]) -> bool:
    """True for a string node grounding narrows (one of `format` date or date-time, nothing else shaping it)."""
    return (
        node.get("type") == "string"
        and node.get("format") in ("date", "date-time")
        and not any(key in node for key in _FIXED)
    )


def _narrow(node: Any, dates: list[str], date_time: str) -> Any:
    if isinstance(node, list):
        return [_narrow(item, dates, date_time) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: value if key in _VALUES else _narrow(value, dates, date_time) for key, value in node.items()}
    if not _narrowed(out):
        return out
    if not dates:
        return False
    if out.get("format") == "date":
        del out["format"]
        out["enum"] = list(dates)
    elif out.get("format") == "date-time":
        del out["format"]
        out["pattern"] = date_time
    return out
