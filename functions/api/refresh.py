"""Re-translation requests: select what to redo, coalesce repeats within the window, queue it for the edge."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any, Literal

import boto3
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError as BotoClientError
from pydantic import Field, model_validator

from functions.common.clock import utc_now
from functions.common.errors import ClientError
from functions.common.queues import Queues
from functions.common.record_store import RecordStore
from functions.common.registry_store import RegistryStore
from schemas.contracts import Contract, TranslateRequest
from schemas.lineage import canonical_json

VERSION_INDEXES = {
    "translator_model_version": "by_model_version",
    "translator_prompt_version": "by_prompt_version",
    "schema_version": "by_schema_version",
}
RETENTION_SECONDS = 7 * 24 * 3600


class RefreshSelector(Contract):
    task: Literal["translate", "embed"] = "translate"
    summary_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
    system: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    translator_model_version: str | None = Field(default=None, max_length=200)
    translator_prompt_version: str | None = Field(default=None, max_length=200)
    schema_version: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _one_kind_of_selection(self) -> RefreshSelector:
        versions = [name for name in VERSION_INDEXES if getattr(self, name)]
        if len(versions) > 1:
            raise ValueError(f"choose one version selector, not {', '.join(versions)}")
        if versions and (self.summary_id or self.system):
            raise ValueError("a version selector cannot be combined with summary_id or system")
        if self.task == "embed" and (versions or self.system):
            raise ValueError("task embed re-embeds summaries: select them by summary_id or not at all")
        return self


class RefreshService:
    def __init__(
        self,
        table_name: str,
        sessions_table: str,
        records: RecordStore,
        registry: RegistryStore,
        queues: Queues,
        window_seconds: int,
    ) -> None:
        ddb = boto3.resource("dynamodb")
        self.table, self.sessions = ddb.Table(table_name), ddb.Table(sessions_table)
        self.records, self.registry, self.queues, self.window = records, registry, queues, window_seconds

    def request(self, selector: RefreshSelector) -> tuple[bool, dict[str, Any]]:
        """(created, request item); a repeat of the same selection within the window returns the first one."""
        self._check_exists(selector)
        targets = list(self._targets(selector))  # before any write: a refused request leaves nothing
        selection = selector.model_dump(exclude_none=True, exclude_defaults=True)
        key = "key:" + hashlib.sha256(canonical_json(selection).encode()).hexdigest()[:32]
        now = int(time.time())
        request_id = f"rf-{hashlib.sha256(f'{key}:{now}'.encode()).hexdigest()[:20]}"
        try:
            self.table.put_item(
                Item={"request_id": key, "current": request_id, "created_epoch": now, "expires_at": now + self.window},
                ConditionExpression=Attr("request_id").not_exists() | Attr("created_epoch").lt(now - self.window),
            )
        except BotoClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            existing = self.table.get_item(Key={"request_id": key}, ConsistentRead=True)["Item"]
            return False, self.get(existing["current"])
        item = {
            "request_id": request_id,
            "selector": selection,
            "queued": len(targets),
            "completed": 0,
            "status": "queued" if targets else "done",
            "created_at": utc_now(),
            "expires_at": now + RETENTION_SECONDS,
        }
        self.table.put_item(Item=item)
        for summary_id, system in targets:
            self.queues.request_translation(
                TranslateRequest(
                    summary_id=summary_id, system=system, reason="refresh", request_id=request_id, task=selector.task
                ),
                dedup_key=f"{request_id}:{summary_id}:{system or selector.task}",
            )
        return True, item

    def _check_exists(self, selector: RefreshSelector) -> None:
        if selector.summary_id:
            item = self.sessions.get_item(Key={"session_id": selector.summary_id}).get("Item")
            if not item or item.get("status") != "SUMMARIZED":
                raise ClientError("not_found", f"no summarized session {selector.summary_id}", status=404)
        if selector.system and not self.registry.active_system(selector.system):
            raise ClientError("not_found", f"no published system {selector.system}", status=404)

    def get(self, request_id: str) -> dict[str, Any]:
        item = self.table.get_item(Key={"request_id": request_id}, ConsistentRead=True).get("Item")
        if not item or request_id.startswith("key:"):
            raise ClientError("not_found", f"no refresh request {request_id}", status=404)
        return item

    def complete_one(self, request_id: str) -> None:
        """The edge stored (or confirmed) one requested translation."""
        try:
            self.table.update_item(
                Key={"request_id": request_id},
                UpdateExpression="ADD completed :one",
                ConditionExpression=Attr("request_id").exists(),
                ExpressionAttributeValues={":one": 1},
            )
            self.table.update_item(
                Key={"request_id": request_id},
                UpdateExpression="SET #s = :done",
                ConditionExpression="completed >= queued",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":done": "done"},
            )
        except BotoClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def _active_systems(self) -> list[str]:
        names = [system["name"] for system in self.registry.active_systems()]
        if not names:
            raise ClientError("no_systems", "no system definitions have been published yet", status=409)
        return names

    def _summarized_ids(self) -> Iterator[str]:
        kwargs: dict[str, Any] = {
            "IndexName": "by_status",
            "KeyConditionExpression": Key("status").eq("SUMMARIZED"),
            "ProjectionExpression": "session_id",
        }
        while True:
            page = self.sessions.query(**kwargs)
            yield from (item["session_id"] for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _targets(self, selector: RefreshSelector) -> Iterator[tuple[str, str | None]]:
        for attribute, index in VERSION_INDEXES.items():
            version = getattr(selector, attribute)
            if version:
                token = None
                while True:
                    items, token = self.records.keys_for_version(index, attribute, version, 100, token)
                    yield from ((item["summary_id"], item["system"]) for item in items)
                    if not token:
                        return
        systems = (
            [None] if selector.task == "embed" else [selector.system] if selector.system else self._active_systems()
        )
        summaries = [selector.summary_id] if selector.summary_id else self._summarized_ids()
        for summary_id in summaries:
            for system in systems:
                yield summary_id, system
