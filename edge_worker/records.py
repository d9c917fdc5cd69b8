"""Storing a system's JSON in the cloud: its lineage in the registry first, then the record; a 409 is re-read."""

from __future__ import annotations

from typing import Any, Literal

from edge_worker.api_client import ApiRejected
from edge_worker.delivery import Delivery, Upload
from edge_worker.jobs import is_current, lineage_for
from edge_worker.model_store import ADAPTER_KIND, adapter_entry
from edge_worker.ports import CloudApi, ModelInfoLike
from edge_worker.prompting import prompt_content
from schemas.contracts import Lineage, TranslateRequest
from schemas.edge_api import RecordUpload
from schemas.lineage import content_version
from schemas.system_definition import SystemDefinition

Stored = Literal["stored", "unchanged", "kept", "skipped"]


class RecordStore:
    """A system's JSON into the cloud through `delivery`, with its lineage (model and prompt registry entries)."""

    def __init__(self, api: CloudApi, delivery: Delivery, model_info: ModelInfoLike, model_version: str) -> None:
        self.api, self.delivery = api, delivery
        self.model_info, self.model_version = model_info, model_version

    def store(
        self,
        request: TranslateRequest,
        system: SystemDefinition,
        document: dict[str, Any],
        state: dict | None,
        translate_ms: int | None = None,
        adapter_version: str | None = None,
    ) -> Stored:
        """Send one document written for `request` (with the LoRA adapter `adapter_version`, if any), over the
        record `state` the cloud had when it was read, with the milliseconds its translation took when measured.

        "stored" or "unchanged" (the cloud's answer), "kept" (in the outbox: the API is unreachable), or
        "skipped" (a 409, and another worker had stored this very translation). Raises ApiRejected otherwise.
        """
        lineage = lineage_for(system, self.model_version, adapter_version)
        refresh = request.reason == "refresh"
        upload = RecordUpload(
            document=document,
            lineage=Lineage(**lineage),
            expected_version=int((state or {}).get("version", 0)),
            request_id=request.request_id if refresh else None,
            translate_ms=translate_ms,
        )
        try:
            sent = self.delivery.send(
                *self._lineage(system, adapter_version), self.delivery.record(request.summary_id, system.name, upload)
            )
        except ApiRejected as error:
            if error.status != 409:
                raise
            current = self.api.summary(request.summary_id).systems.get(system.name)
            if current is not None and is_current(current.model_dump(), lineage) and not refresh:
                return "skipped"
            upload = upload.model_copy(update={"expected_version": current.version if current else 0})
            sent = self.delivery.send(self.delivery.record(request.summary_id, system.name, upload))
        if not sent.delivered:
            return "kept"
        return "unchanged" if sent.answer.outcome == "unchanged" else "stored"

    def _lineage(self, system: SystemDefinition, adapter_version: str | None = None) -> list[Upload]:
        """Registry entries for the model, the prompt and the adapter if any (content-addressed, so sending them
        again is harmless)."""
        entries = [
            ("translator-model", self.model_info.registry_content()),
            ("translator-prompt", prompt_content(system)),
        ]
        if adapter_version:
            entries.append((ADAPTER_KIND, adapter_entry(adapter_version)))
        return [
            self.delivery.registry_entry(content_version(kind, content), kind, content) for kind, content in entries
        ]
