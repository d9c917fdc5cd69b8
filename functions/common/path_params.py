"""Ids taken from URL paths are checked before they reach a table key."""

from __future__ import annotations

import re
from urllib.parse import unquote

from functions.common.errors import ClientError
from schemas.contracts import ID_PATTERN, SYSTEM_NAME_PATTERN

_PATTERNS = {
    "id": re.compile(ID_PATTERN),
    "system": re.compile(SYSTEM_NAME_PATTERN),
    "version": re.compile(r"^[a-z][a-z0-9-]{0,62}:[A-Za-z0-9._-]{1,128}$"),
    "request": re.compile(r"^rf-[0-9a-f]{1,64}$"),
}


def checked(value: str, kind: str, name: str) -> str:
    """The decoded path segment (routing sees the raw path), or a 400 naming it."""
    value = unquote(value)
    if not _PATTERNS[kind].fullmatch(value):
        shown = value if len(value) <= 80 else value[:80] + "..."
        raise ClientError("invalid_path", f"{name} {shown!r} is not a valid {kind}", status=400)
    return value
