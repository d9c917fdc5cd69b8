"""Who is calling: the name, scopes and bound source the authorizer attached to the request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.errors import ClientError
from functions.stores.tokens import SCOPES


@dataclass(frozen=True)
class Principal:
    name: str
    scopes: frozenset[str]
    source: str | None  # an ingest token is bound to one subsystem

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Principal:
        context = ((event.get("requestContext") or {}).get("authorizer") or {}).get("lambda") or {}
        scopes = frozenset(s for s in str(context.get("scopes", "")).split() if s in SCOPES)
        return cls(str(context.get("name", "")), scopes, context.get("source") or None)

    def has(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    def require(self, *any_of: str) -> None:
        """A 403 ClientError unless the caller holds one of `any_of` (admin holds them all)."""
        if not any(self.has(scope) for scope in any_of):
            raise ClientError("forbidden", f"this token lacks the {' or '.join(any_of)} scope", status=403)

    def require_source(self, source: str) -> None:
        """An ingest-only token may only act for the subsystem it was issued to."""
        if "admin" in self.scopes:
            return
        if self.source != source:
            raise ClientError("forbidden", f"this token is bound to source {self.source!r}, not {source!r}", status=403)
