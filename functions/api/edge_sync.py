"""What the edge worker reads and writes: summaries to translate, validated system JSON, registry entries and
system definitions (a changed definition is backfilled for every summary)."""

from __future__ import annotations

from typing import Any

import jsonpatch
from aws_lambda_powertools import Logger

from functions.api.documents import check_document
from functions.api.refresh import RefreshService
from functions.clock import utc_now
from functions.errors import ClientError, unknown_system
from functions.stores.records import RecordStore, document_hash, stale_version
from functions.stores.registry import RegistryStore
from functions.stores.sessions import SessionStore
from schemas.contracts import Lineage, RefreshSelector, SystemState
from schemas.edge_api import (
    EdgeSummary,
    PendingPage,
    PendingSummary,
    RecordStored,
    RecordUpload,
    RegistryStored,
    RegistryUpload,
    SystemPublished,
    SystemRetired,
)
from schemas.lineage import RegistryEntry, content_version
from schemas.system_definition import SystemDefinition, SystemDefinitionError

logger = Logger(child=True)


class EdgeSync:
    def __init__(
        self, sessions: SessionStore, records: RecordStore, registry: RegistryStore, refresh: RefreshService
    ) -> None:
        self.sessions, self.records, self.registry, self.refresh = sessions, records, registry, refresh

    def summary(self, summary_id: str, request_id: str | None = None) -> EdgeSummary:
        """A summarized session's text and per-system state; 404 otherwise. With the `request_id` of a refresh,
        also the systems that request already stored for it (its message came back after the edge stopped)."""
        item = self.sessions.summarized(summary_id)
        systems = item.get("systems", {})
        return EdgeSummary(
            summary_id=summary_id,
            source=item["source"],
            text=self.sessions.summary_text(item["summary_key"]),
            summarizer_model_version=item.get("summarizer_model_version"),
            systems=systems,
            embedding_version=item.get("embedding_version"),
            stored_for_request=self.refresh.stored_for(request_id, summary_id, systems) if request_id else [],
        )

    def pending(self, limit: int, next_token: str | None) -> PendingPage:
        """Summarized sessions with each system's stored state, so the edge can find what it has not done."""
        items, token = self.sessions.summarized_page(limit, next_token)
        summaries = [
            PendingSummary(
                summary_id=item["session_id"],
                systems=item.get("systems", {}),
                embedding_version=item.get("embedding_version"),
            )
            for item in items
        ]
        return PendingPage(items=summaries, next=token)

    def put_record(self, summary_id: str, system: str, upload: RecordUpload, author_name: str = "") -> RecordStored:
        """Validate the document against the schema version it names and store it as the next version; when the
        current version is a user's edit, keep it and store the upload as a proposal (unless a forced refresh
        asked for it).

        Raises 404 (no such summary or system, or the summary was deleted), 422 (unknown schema version, schema
        violation) or 409 (stale). Counts once towards the refresh request the upload names, and the backfill that
        queued it, whatever the outcome.
        """
        self.sessions.summarized(summary_id)
        if not self.registry.active_system(system):
            raise unknown_system(system)
        check_document(self.registry, upload.lineage.schema_version, upload.document)
        stored = self._store(summary_id, system, upload, author_name)
        self.refresh.complete(summary_id, system, upload.request_id)
        logger.info(
            "record stored", summary_id=summary_id, system=system, outcome=stored.outcome, version=stored.version
        )
        return stored

    def _store(self, summary_id: str, system: str, upload: RecordUpload, author_name: str) -> RecordStored:
        current = self.records.get(summary_id, system)
        current_version = int(current["version"]) if current else 0
        if upload.expected_version != current_version:
            raise stale_version(f"{summary_id}/{system} is at version {current_version}, not {upload.expected_version}")
        if current and current["document_hash"] == document_hash(upload.document):
            if current.get("proposal"):  # the latest translation agrees with the user's version: nothing to propose
                self.records.clear_proposal(summary_id, system, current_version)
            self._translated_with(current, upload.lineage)
            return RecordStored(outcome="unchanged", version=current_version)
        if current and current.get("author") == "user" and not self.refresh.forces(upload.request_id):
            stored = self._propose(current, upload, author_name)
            self._translated_with(current, upload.lineage)
            return stored
        previous = self.records.document(current) if current else {}
        item = self.records.store_version(
            summary_id=summary_id,
            system=system,
            expected_version=current_version,
            document=upload.document,
            patch=jsonpatch.make_patch(previous, upload.document).patch,
            lineage=upload.lineage,
            request_id=upload.request_id,
            author="edge",
            author_name=author_name,
            translate_ms=upload.translate_ms,
        )
        return RecordStored(outcome="created" if current_version == 0 else "updated", version=item["version"])

    def _translated_with(self, current: dict[str, Any], lineage: Lineage) -> None:
        """The edge translated this record again with `lineage` and it stays as it is: the session's state names
        that lineage, so the edge does not translate it again for the same versions."""
        state = SystemState(
            version=int(current["version"]),
            updated_at=current["updated_at"],
            document_hash=current["document_hash"],
            **lineage.model_dump(),
        )
        self.sessions.translated_with(current["summary_id"], current["system"], state)

    def _propose(self, current: dict[str, Any], upload: RecordUpload, author_name: str) -> RecordStored:
        """A user edited this record: the new output waits beside it until the user accepts or dismisses it."""
        summary_id, system, version = current["summary_id"], current["system"], int(current["version"])
        proposal = {
            **self.records.put_proposal_document(summary_id, system, upload.document),
            "document_hash": document_hash(upload.document),
            "lineage": upload.lineage.model_dump(),
            "proposed_at": utc_now(),
            "request_id": upload.request_id or "",
            "author_name": author_name,
        }
        if not self.records.set_proposal(summary_id, system, version, proposal):
            raise stale_version(f"{summary_id}/{system} is no longer at version {version}")
        return RecordStored(outcome="proposed", version=version)

    def put_registry(self, version_id: str, upload: RegistryUpload) -> RegistryStored:
        """Store a registry entry whose id is its content's hash; 422 if it is not, 413 (content_too_large) when it
        is larger than one registry item holds (nothing is stored)."""
        expected = content_version(upload.kind, upload.content)
        if version_id != expected:
            raise ClientError(
                "version_mismatch", f"{version_id} is not the content version of this entry ({expected})", status=422
            )
        created = self.registry.put(RegistryEntry.make(upload.kind, upload.content))
        return RegistryStored(version_id=version_id, created=created)

    def retire_system(self, name: str) -> SystemRetired:
        """Stop publishing `name`: it leaves GET /systems and sessions' pipeline state, and uploads for it are
        refused; its records, history and registry entries stay. Unfinished refresh requests stop waiting for its
        pieces. 404 unknown_system when it is not published."""
        if not self.registry.active_system(name):
            raise unknown_system(name)
        dropped = self.refresh.drop_system(name)  # first: a failure here leaves it published, to be retired again
        pointer = self.registry.retire_system(name)
        if pointer is None:
            raise unknown_system(name)
        logger.info(
            "system retired",
            system=name,
            definition_version=pointer.get("definition_version"),
            requests_dropped=dropped,
        )
        return SystemRetired(name=name, definition_version=str(pointer.get("definition_version", "")))

    def publish_system(self, name: str, data: Any) -> SystemPublished:
        """Make a system definition the active one; a changed definition queues a backfill of every summary.

        Raises 422 (invalid definition, name mismatch, unstorable number) or 413 (content_too_large: its schema or
        definition entry is larger than one registry item holds) before anything is stored."""
        try:
            definition = SystemDefinition.from_dict(data, source=f"{name}.json")
        except SystemDefinitionError as error:
            raise ClientError("invalid_system_definition", str(error), status=422) from error
        if definition.name != name:
            raise ClientError("name_mismatch", f"definition is named {definition.name!r}, not {name!r}", status=422)
        self.registry.put_all(
            [RegistryEntry.make("schema", definition.schema), RegistryEntry.make("system", definition.to_dict())]
        )
        previous = self.registry.active_system(name)
        changed = not previous or previous.get("definition_version") != definition.definition_version
        pointer = {
            "name": name,
            "description": definition.description,
            "definition_version": definition.definition_version,
            "schema_version": definition.schema_version,
        }
        self.registry.set_active_system(pointer)
        if not changed:
            return SystemPublished(**pointer, changed=False)
        _, backfill = self.refresh.request(RefreshSelector(system=name), backfill_of=definition.definition_version)
        return SystemPublished(**pointer, changed=True, backfill_request_id=backfill["request_id"])
