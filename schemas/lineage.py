"""Content-addressed registry ids: a version is the hash of what it names."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

DIGEST_CHARS = 20


def canonical_json(obj: Any) -> str:
    """One text per value: sorted keys, no whitespace, unicode kept as is."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _check_kind(kind: str) -> str:
    if not kind or ":" in kind or kind != kind.strip():
        raise ValueError(f"registry kind must be a non-empty slug without ':', got {kind!r}")
    return kind


def content_version(kind: str, content: Mapping[str, Any]) -> str:
    """`<kind>:<first 20 hex chars of sha256(canonical_json(content))>`."""
    _check_kind(kind)
    digest = hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()
    return f"{kind}:{digest[:DIGEST_CHARS]}"


class RegistryEntry(BaseModel):
    """One registry row: the version id and the content it was computed from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version_id: str
    kind: str
    content: dict[str, Any]
    created_at: str

    @field_validator("kind")
    @classmethod
    def _kind_is_slug(cls, kind: str) -> str:
        return _check_kind(kind)

    @classmethod
    def make(cls, kind: str, content: Mapping[str, Any]) -> RegistryEntry:
        return cls(
            version_id=content_version(kind, content),
            kind=kind,
            content=dict(content),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def matches_content(self) -> bool:
        """True when version_id is still the hash of kind and content."""
        return self.version_id == content_version(self.kind, self.content)
