"""Finding a repeated array item while a compact JSON document is generated, byte by byte.

`ItemTracker` follows the document's arrays and objects (the grammar writes compact JSON, so no whitespace) and,
when an item closes that equals an earlier item of the same array under `key_of(path, item)`, reports the byte
offset of the "," that opened it: the decoder rolls back to there and closes the array instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

KeyOf = Callable[[str, Any], Hashable]


@dataclass
class _Frame:
    array: bool
    path: str
    key: str | None = None  # objects: the key whose value comes next
    expect_key: bool = True
    item_start: int | None = None  # arrays: where the open item began
    separator: int | None = None  # arrays: the "," before the open item
    seen: set[Hashable] = field(default_factory=set)


class ItemTracker:
    """Feed it the document's bytes in order; `duplicate` is the offset of the "," before the first repeated item."""

    def __init__(self, key_of: KeyOf) -> None:
        self.key_of = key_of
        self.data = bytearray()
        self.duplicate: int | None = None
        self._stack: list[_Frame] = []
        self._string_start: int | None = None
        self._string_is_key = False
        self._escaped = False

    def restarted(self, data: bytes) -> ItemTracker:
        """A new tracker with the same key function that has read `data`."""
        twin = ItemTracker(self.key_of)
        twin.feed(data)
        return twin

    def feed(self, chunk: bytes) -> None:
        for byte in chunk:
            self.data.append(byte)
            self._byte(byte, len(self.data) - 1)

    def _byte(self, byte: int, at: int) -> None:
        if self._string_start is not None:
            if self._escaped:
                self._escaped = False
            elif byte == 0x5C:
                self._escaped = True
            elif byte == 0x22:
                start, self._string_start = self._string_start, None
                if self._string_is_key:
                    self._stack[-1].key = json.loads(bytes(self.data[start : at + 1]))
                else:
                    self._value_end(at)
            return
        top = self._stack[-1] if self._stack else None
        item = top.item_start if top is not None and top.array else None
        if item is not None and byte in b",]" and self.data[item] not in b'"{[':
            self._value_end(at - 1)  # a number, true, false or null ends before the "," or "]"
        if byte == 0x22:
            self._string_is_key = top is not None and not top.array and top.expect_key
            if not self._string_is_key:
                self._value_start(at)
            self._string_start = at
        elif byte in b"{[":
            self._value_start(at)
            self._stack.append(_Frame(array=byte == 0x5B, path=self._child_path()))
        elif byte in b"}]":
            if self._stack:
                self._stack.pop()
            self._value_end(at)
        elif byte == 0x3A and top is not None:
            top.expect_key = False
        elif byte == 0x2C and top is not None:
            if top.array:
                top.separator = at
            else:
                top.expect_key = True
        else:
            self._value_start(at)

    def _child_path(self) -> str:
        if not self._stack:
            return ""
        top = self._stack[-1]
        if top.array:
            return f"{top.path}[]"
        return f"{top.path}.{top.key}" if top.path else str(top.key)

    def _value_start(self, at: int) -> None:
        top = self._stack[-1] if self._stack else None
        if top is not None and top.array and top.item_start is None:
            top.item_start = at

    def _value_end(self, at: int) -> None:
        top = self._stack[-1] if self._stack else None
        if top is None or not top.array or top.item_start is None:
            return
        start, top.item_start = top.item_start, None
        try:
            item = json.loads(bytes(self.data[start : at + 1]))
        except ValueError:  # not a whole value (cannot happen under the grammar): not compared
            return
        key = self.key_of(top.path, item)
        if key in top.seen and top.separator is not None and self.duplicate is None:
            self.duplicate = top.separator
        top.seen.add(key)
