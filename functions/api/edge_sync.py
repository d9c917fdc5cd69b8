"""What the edge worker reads and writes: summaries to translate, validated system JSON, registry entries."""

from __future__ import annotations

from typing import Any, Literal

import jsonpatch
from boto3.dynamodb.conditions import Key
from pydantic import Field

from functions.common.errors import ClientError
from functions.common.paging import query_page
from functions.common.record_store import RecordStore, StaleVersionError, document_hash
from functions.common.registry_store import RegistryStore
from functions.common.session_store import SessionStore
from functions.common.views import plain
from schemas.contracts import Contract
from schemas.lineage import RegistryEntry, content_version
from schemas.system_definition import SystemDefinition, SystemDefinitionError, output_validator


class Lineage(Contract):
    translator_model_version: str = Field(min_length=1, max_length=200)
    translator_prompt_version: str = Field(min_length=1, max_length=200)
    schema_version: str = Field(min_length=1, max_length=200)


class RecordUpload(Contract):
    document: dict[str, Any]
    lineage: Lineage
    expected_version: int = Field(ge=0)
    request_id: str | None = Field(default=None, max_length=128)


class RegistryUpload(Contract):
    kind: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")
    content: dict[str, Any]


Outcome = Literal["created", "updated", "unchanged"]


class EdgeSync:
    def __init__(self, sessions: SessionStore, records: RecordStore, registry: RegistryStore) -> None:
        self.sessions, self.records, self.registry = sessions, records, registry

    def summary_for_edge(self, summary_id: str) -> dict[str, Any]:
        item = self.sessions.get(summary_id)
        if not item or item.get("status") != "SUMMARIZED":
            raise ClientError("not_found", f"no summarized session {summary_id}", status=404)
        return {
            "summary_id": summary_id,
            "source": item["source"],
            "text": self.sessions.read_text(item["summary_key"]),
            "summarizer_model_version": item.get("summarizer_model_version"),
            "systems": item.get("systems", {}),
            "embedding_version": item.get("embedding_version"),
        }

    def put_record(self, summary_id: str, system: str, upload: RecordUpload) -> tuple[Outcome, dict[str, Any]]:
        self.summary_for_edge(summary_id)
        if not self.registry.active_system(system):
            raise ClientError(
                "unknown_system", f"system {system} has not been published (PUT /edge/systems/{system})", status=404
            )
        schema_entry = self.registry.get(upload.lineage.schema_version)
        if not schema_entry or schema_entry.get("kind") != "schema":
            raise ClientError(
                "unknown_schema_version",
                f"schema version {upload.lineage.schema_version} is not in the registry; publish it first",
                status=422,
            )
        errors = [
            f"at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in output_validator(schema_entry["content"]).iter_errors(upload.document)
        ]
        if errors:
            raise ClientError(
                "schema_violation",
                f"document does not match {upload.lineage.schema_version}: {errors[0]}",
                [{"problem": e} for e in errors[:20]],
                status=422,
            )
        current = self.records.get(summary_id, system)
        current_version = int(current["version"]) if current else 0
        if upload.expected_version != current_version:
            raise ClientError(
                "stale_version",
                f"{summary_id}/{system} is at version {current_version}, not {upload.expected_version}",
                status=409,
            )
        if current and current["document_hash"] == document_hash(upload.document):
            return "unchanged", current
        previous = self.records.document(current) if current else {}
        patch = jsonpatch.make_patch(previous, upload.document).patch
        try:
            item = self.records.store_version(
                summary_id=summary_id,
                system=system,
                expected_version=current_version,
                document=upload.document,
                patch=patch,
                lineage=upload.lineage.model_dump(),
                request_id=upload.request_id,
            )
        except StaleVersionError as error:
            raise ClientError("stale_version", str(error), status=409) from error
        return ("created" if current_version == 0 else "updated"), item

    def put_registry(self, version_id: str, upload: RegistryUpload) -> bool:
        expected = content_version(upload.kind, upload.content)
        if version_id != expected:
            raise ClientError(
                "version_mismatch", f"{version_id} is not the content version of this entry ({expected})", status=422
            )
        return self.registry.put(RegistryEntry.make(upload.kind, upload.content))

    def publish_system(self, name: str, data: Any) -> dict[str, Any]:
        try:
            definition = SystemDefinition.from_dict(data, source=f"{name}.json")
        except SystemDefinitionError as error:
            raise ClientError("invalid_system_definition", str(error), status=422) from error
        if definition.name != name:
            raise ClientError("name_mismatch", f"definition is named {definition.name!r}, not {name!r}", status=422)
        self.registry.put(RegistryEntry.make("schema", definition.schema))
        self.registry.put(RegistryEntry.make("system", definition.to_dict()))
        previous = self.registry.active_system(name)
        changed = not previous or previous.get("definition_version") != definition.definition_version
        pointer = {
            "name": name,
            "description": definition.description,
            "definition_version": definition.definition_version,
            "schema_version": definition.schema_version,
        }
        self.registry.set_active_system(pointer)
        return {**pointer, "changed": changed}

    def summarized_page(self, limit: int, next_token: str | None) -> dict[str, Any]:
        """Summarized sessions with each system's stored state, so the edge can find what it has not done."""
        items, token = query_page(
            self.sessions.table,
            limit=limit,
            next_token=next_token,
            IndexName="by_status",
            KeyConditionExpression=Key("status").eq("SUMMARIZED"),
        )
        return {
            "items": [
                {
                    "summary_id": i["session_id"],
                    "systems": plain(i.get("systems", {})),
                    "embedding_version": i.get("embedding_version"),
                }
                for i in items
            ],
            "next": token,
        }
