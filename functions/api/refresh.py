"""Re-translation requests: select what to redo, coalesce repeats within the window, queue it for the edge."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from functions.clock import epoch_seconds, utc_now
from functions.errors import ClientError, not_found
from functions.queues import EdgeQueue
from functions.stores.records import RecordStore
from functions.stores.refresh import RefreshStore
from functions.stores.registry import RegistryStore
from functions.stores.sessions import SessionStore
from schemas.contracts import RefreshSelector, TranslateRequest
from schemas.lineage import canonical_json

RETENTION_SECONDS = 7 * 24 * 3600


class RefreshService:
    def __init__(
        self,
        store: RefreshStore,
        sessions: SessionStore,
        records: RecordStore,
        registry: RegistryStore,
        edge_queue: EdgeQueue,
        window_seconds: int,
    ) -> None:
        self.store, self.sessions, self.records, self.registry = store, sessions, records, registry
        self.edge_queue, self.window = edge_queue, window_seconds

    def request(self, selector: RefreshSelector) -> tuple[bool, dict[str, Any]]:
        """(created, request item); a repeat of the same selection within the window returns the first one.

        Raises a 404 ClientError for an unknown summary or system, 409 when no system is published yet.
        """
        self._check_exists(selector)
        targets = list(self._targets(selector))  # before any write: a refused request leaves nothing
        selection = selector.model_dump(exclude_none=True, exclude_defaults=True)
        digest = hashlib.sha256(canonical_json(selection).encode()).hexdigest()[:32]
        now = epoch_seconds()
        request_id = f"rf-{hashlib.sha256(f'key:{digest}:{now}'.encode()).hexdigest()[:20]}"
        earlier = self.store.coalesce(digest, request_id, now, self.window)
        if earlier is not None:
            return False, self.get(earlier)
        item = {
            "request_id": request_id,
            "selector": selection,
            "queued": len(targets),
            "completed": 0,
            "status": "queued" if targets else "done",
            "created_at": utc_now(),
            "expires_at": now + RETENTION_SECONDS,
        }
        self.store.put(item)
        for summary_id, system in targets:
            self.edge_queue.send(
                TranslateRequest(
                    summary_id=summary_id, system=system, reason="refresh", request_id=request_id, task=selector.task
                ),
                dedup_key=f"{request_id}:{summary_id}:{system or selector.task}",
            )
        return True, item

    def get(self, request_id: str) -> dict[str, Any]:
        item = self.store.get(request_id)
        if not item:
            raise not_found(f"no refresh request {request_id}")
        return item

    def forces(self, request_id: str | None) -> bool:
        """True when the refresh request asked to replace records users edited."""
        item = self.store.get(request_id) if request_id else None
        return bool(item and (item.get("selector") or {}).get("force"))

    def complete_one(self, request_id: str | None) -> None:
        """The edge stored (or confirmed) one requested translation or embedding."""
        if request_id:
            self.store.complete_one(request_id)

    def _check_exists(self, selector: RefreshSelector) -> None:
        if selector.summary_id:
            self.sessions.summarized(selector.summary_id)
        if selector.system and not self.registry.active_system(selector.system):
            raise not_found(f"no published system {selector.system}")

    def _active_systems(self) -> list[str]:
        names = [system["name"] for system in self.registry.active_systems()]
        if not names:
            raise ClientError("no_systems", "no system definitions have been published yet", status=409)
        return names

    def _targets(self, selector: RefreshSelector) -> Iterator[tuple[str, str | None]]:
        """(summary_id, system) pairs to redo; system None for an embedding."""
        by_version = selector.version_selector()
        if by_version:
            yield from self.records.made_by(*by_version)
            return
        systems: list[str | None]
        if selector.task == "embed":
            systems = [None]
        elif selector.system:
            systems = [selector.system]
        else:
            systems = list(self._active_systems())
        summaries: Iterable[str] = [selector.summary_id] if selector.summary_id else self.sessions.summarized_ids()
        for summary_id in summaries:
            for system in systems:
                yield summary_id, system
