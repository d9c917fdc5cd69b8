"""Array items of a system's documents and the key fields that say when two items are the same.

A system may declare `key_fields` in its definition: a map from an array's path to the fields of its items that
identify one, e.g. {"tasks": ["title"], "topics": []}. Paths name arrays from the document's root, nested arrays
after "[]" ("events[].attendees"); [] (or an array of plain values) means the whole item. Without a declaration an
object item is identified by all of its string fields and a plain value by itself, normalised (`normal_text`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Hashable, Iterator, Mapping, Sequence
from typing import Any

KeyFields = Mapping[str, Sequence[str]]
ItemKey = tuple[Hashable, ...]
_PUNCTUATION = re.compile(r"[^\w\s]")
_ARTICLES = frozenset({"a", "an", "the"})
DATE_VALUE = re.compile(r"^\d{4}-\d{2}-\d{2}")  # a date or date-time: compared exactly


def normal_text(value: str) -> str:
    """Case, accents' composition, punctuation, articles and runs of spaces do not tell two texts apart."""
    text = _PUNCTUATION.sub(" ", unicodedata.normalize("NFKC", value).casefold())
    return " ".join(word for word in text.split() if word not in _ARTICLES)


def normal_value(value: Any) -> Hashable:
    """A JSON value as a hashable, comparable key part (strings through normal_text, dates as written)."""
    if isinstance(value, str):
        return value.strip() if DATE_VALUE.match(value.strip()) else normal_text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def item_key(item: Any, fields: Sequence[str] | None) -> ItemKey:
    """The key of one array item: its `fields` (None: all string fields), or the whole value of a plain item."""
    if not isinstance(item, dict):
        return (normal_value(item),)
    if not fields:
        chosen = sorted(name for name, value in item.items() if isinstance(value, str)) if fields is None else []
        if not chosen:
            return (normal_value(item),)
        fields = chosen
    return tuple((name, normal_value(item.get(name))) for name in fields)


class ItemKeys:
    """The key fields of one system's arrays (declared, else the default)."""

    def __init__(self, key_fields: KeyFields | None = None) -> None:
        self.key_fields = {path: list(fields) for path, fields in (key_fields or {}).items()}

    @classmethod
    def of(cls, system: Any) -> ItemKeys:
        return cls(getattr(system, "key_fields", None))

    def fields(self, path: str) -> list[str] | None:
        return self.key_fields.get(path)

    def key(self, path: str, item: Any) -> ItemKey:
        return item_key(item, self.fields(path))


def arrays(document: Any, path: str = "") -> Iterator[tuple[str, list[Any]]]:
    """Every array in `document` with its path ("tasks", "events[].attendees"), outer arrays first."""
    if isinstance(document, dict):
        for name, value in document.items():
            yield from arrays(value, f"{path}.{name}" if path else name)
    elif isinstance(document, list):
        yield path, document
        for item in document:
            yield from arrays(item, f"{path}[]")


def top_level_items(document: Any) -> dict[str, list[Any]]:
    """The items of each array at the document's root, by name (what item-level scores count)."""
    if not isinstance(document, dict):
        return {}
    return {name: value for name, value in document.items() if isinstance(value, list)}


def duplicate_count(document: Any, keys: ItemKeys) -> int:
    """How many items repeat an earlier item of the same array under its key fields (any depth)."""
    count = 0
    for path, items in arrays(document):
        seen: set[ItemKey] = set()
        for item in items:
            key = keys.key(path, item)
            count += key in seen
            seen.add(key)
    return count


def drop_duplicates(document: Any, keys: ItemKeys, path: str = "") -> tuple[Any, int]:
    """`document` with every item that repeats an earlier one of its array removed, and how many were removed.

    The first of equal items is kept, with the order of the others unchanged."""
    if isinstance(document, dict):
        out, dropped = {}, 0
        for name, value in document.items():
            out[name], count = drop_duplicates(value, keys, f"{path}.{name}" if path else name)
            dropped += count
        return out, dropped
    if isinstance(document, list):
        kept, seen, dropped = [], set(), 0
        for item in document:
            key = keys.key(path, item)
            if key in seen:
                dropped += 1
                continue
            seen.add(key)
            inner, count = drop_duplicates(item, keys, f"{path}[]")
            kept.append(inner)
            dropped += count
        return kept, dropped
    return document, 0
