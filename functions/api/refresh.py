"""Re-translation requests: select what to redo, coalesce repeats within the window, queue it for the edge.

A user's refresh goes to the edge queue (before anything else); a backfill (a changed system definition) goes to
the backfill queue, which the edge reads only when the edge queue is empty, and skips the (summary, system) pairs
whose record already has the current versions or that an earlier backfill still has queued.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from functions.clock import epoch_seconds, utc_now
from functions.errors import ClientError, not_found, unknown_system
from functions.queues import BackfillQueue, EdgeQueue
from functions.stores.records import RecordStore
from functions.stores.refresh import RETENTION_SECONDS, RefreshStore
from functions.stores.registry import RegistryStore
from functions.stores.sessions import SessionStore
from schemas.contracts import RefreshSelector, TranslateRequest
from schemas.lineage import canonical_json

PROMPT_PAGES = 4  # registry pages searched for a system's newest translator prompt


def _piece(summary_id: str, system: str | None) -> str:
    """One piece of work: a summary and a system, or a summary and "embed"."""
    return f"{summary_id}/{system or 'embed'}"


class RefreshService:
    def __init__(
        self,
        store: RefreshStore,
        sessions: SessionStore,
        records: RecordStore,
        registry: RegistryStore,
        edge_queue: EdgeQueue,
        window_seconds: int,
        backfill_queue: BackfillQueue | None = None,
    ) -> None:
        self.store, self.sessions, self.records, self.registry = store, sessions, records, registry
        self.edge_queue, self.window = edge_queue, window_seconds
        self.backfill_queue = backfill_queue or edge_queue

    def request(self, selector: RefreshSelector, *, backfill_of: str | None = None) -> tuple[bool, dict[str, Any]]:
        """(created, request item); a repeat of the same selection within the window returns the first one while
        that one is not done.

        backfill_of: the definition version a backfill is for (selector.system); its work is queued behind users'
        work, without the pairs already current or still queued by an earlier backfill. Raises a 404 ClientError for
        an unknown summary or system, 409 when no system is published yet.
        """
        backfill = backfill_of is not None
        read_at = epoch_seconds()
        self._check_exists(selector)
        # before any write: a refused request leaves nothing
        targets = list(self._backfill_targets(selector) if backfill else self._targets(selector))
        selection = selector.model_dump(exclude_none=True, exclude_defaults=True)
        keyed = {**selection, "backfill_of": backfill_of} if backfill else selection
        digest = hashlib.sha256(canonical_json(keyed).encode()).hexdigest()[:32]
        now = epoch_seconds()
        request_id = f"rf-{uuid.uuid4().hex[:20]}"
        earlier = self.store.coalesce(digest, request_id, now, self.window)
        if earlier is not None:
            item = self.get(earlier)
            # a finished request asked again is new work (the record may have been edited since)
            if item["status"] != "done" or not self.store.reclaim(digest, request_id, earlier, now, self.window):
                return False, item
        if backfill:
            finished: dict[str, bool] = {}  # earlier backfills holding pieces: done or not
            expires = now + RETENTION_SECONDS
            targets = [t for t in targets if self.store.claim_queued(_piece(*t), request_id, now, expires, finished)]
        item = {
            "request_id": request_id,
            "selector": selection,
            "queued": len(targets),
            "completed": 0,
            "queued_by_system": dict(Counter(system or "embed" for _, system in targets)),
            "completed_by_system": {},
            "status": "queued" if targets else "done",
            "created_at": utc_now(),
            "expires_at": now + RETENTION_SECONDS,
        }
        if backfill:
            item["kind"] = "backfill"
        self.store.put(item)
        by_summary: dict[str, set[str]] = {}
        for summary_id, system in targets:
            by_summary.setdefault(summary_id, set()).add(f"{request_id}|{system or 'embed'}")
        for summary_id, entries in by_summary.items():
            if not self.store.mark_pending(summary_id, entries, now + RETENTION_SECONDS, read_at):
                self.store.drop_pieces(summary_id, entries, now + RETENTION_SECONDS)  # purged meanwhile
        queue = self.backfill_queue if backfill else self.edge_queue
        for summary_id, system in targets:
            queue.send(
                TranslateRequest(
                    summary_id=summary_id,
                    system=system,
                    reason="backfill" if backfill else "refresh",
                    request_id=request_id,
                    task=selector.task,
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

    def complete(self, summary_id: str, piece: str, request_id: str | None) -> None:
        """The edge stored (or confirmed) `piece` of a summary: a system's record, or "embed" for its vector.

        Counts once towards the request the upload names, and towards the backfill that had queued this pair.
        """
        key = _piece(summary_id, piece)
        expires = epoch_seconds() + RETENTION_SECONDS
        backfill = self.store.release_queued(key) if piece != "embed" else None
        counted = {str(request) for request in {request_id, backfill} - {None}}
        for request in counted:
            self.store.complete_one(request, key, expires)
        if counted:
            self.store.clear_pending(summary_id, {f"{request}|{piece}" for request in counted})

    def drop_system(self, system: str) -> list[str]:
        """`system` was retired: unfinished requests stop waiting for its pieces (they count as `dropped`) and a
        backfill's queued pieces of it are released. The ids of the requests that had pieces dropped."""
        return self.store.drop_system(system)

    def stored_for(self, request_id: str, summary_id: str, systems: Iterable[str]) -> list[str]:
        """Which of `systems` the edge already stored (or confirmed) for `request_id` on this summary, sorted."""
        pieces = {_piece(summary_id, system): system for system in systems}
        return sorted(pieces[piece] for piece in self.store.counted(request_id, list(pieces)))

    def _check_exists(self, selector: RefreshSelector) -> None:
        if selector.summary_id:
            self.sessions.summarized(selector.summary_id)
        if selector.system and not self.registry.active_system(selector.system):
            raise unknown_system(selector.system)

    def _active_systems(self) -> list[str]:
        names = [system["name"] for system in self.registry.active_systems()]
        if not names:
            raise ClientError("no_systems", "no system definitions have been published yet", status=409)
        return names

    def _backfill_targets(self, selector: RefreshSelector) -> Iterator[tuple[str, str | None]]:
        """Every summarized session for the selected system, but those whose record is already current: made with
        the active definition's schema and the newest translator prompt the edge registered for that system."""
        name = selector.system
        if not name:
            raise ValueError("a backfill selects one system")
        pointer = self.registry.active_system(name) or {}
        prompt = self._newest_prompt(name)
        token = None
        while True:
            items, token = self.sessions.summarized_page(100, token)
            for item in items:
                state = (item.get("systems") or {}).get(name) or {}
                current = (
                    prompt is not None
                    and state.get("schema_version") == pointer.get("schema_version")
                    and state.get("translator_prompt_version") == prompt
                )
                if not current:
                    yield item["session_id"], name
            if not token:
                return

    def _newest_prompt(self, system: str) -> str | None:
        """The translator-prompt version the edge registered last for `system` (it does so as it publishes)."""
        token = None
        for _ in range(PROMPT_PAGES):
            entries, token = self.registry.page("translator-prompt", 50, token)
            for entry in entries:
                if (entry.get("content") or {}).get("name") == system:
                    return str(entry["version_id"])
            if not token:
                return None
        return None

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
