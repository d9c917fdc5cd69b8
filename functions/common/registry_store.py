"""The model registry table: content-addressed entries, written once, listed by kind."""

from __future__ import annotations

from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError as BotoClientError

from functions.common.clock import utc_now
from schemas.lineage import RegistryEntry

ACTIVE_SYSTEM_KIND = "active-system"
ACTIVE_EMBEDDING_ID = "active-embedding:edge"  # the edge's embedding model and when it last reported


class RegistryStore:
    def __init__(self, table_name: str) -> None:
        self.table = boto3.resource("dynamodb").Table(table_name)

    def put(self, entry: RegistryEntry) -> bool:
        """Store an entry; False if that version was already known (content-addressed, so nothing changes)."""
        try:
            self.table.put_item(Item=entry.model_dump(), ConditionExpression=Attr("version_id").not_exists())
        except BotoClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get(self, version_id: str) -> dict[str, Any] | None:
        return self.table.get_item(Key={"version_id": version_id}).get("Item")

    def page_by_kind(self, kind: str, limit: int, start: dict | None = None) -> tuple[list[dict], dict | None]:
        kwargs: dict[str, Any] = {
            "IndexName": "by_kind",
            "KeyConditionExpression": Key("kind").eq(kind),
            "Limit": limit,
            "ScanIndexForward": False,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = self.table.query(**kwargs)
        return page.get("Items", []), page.get("LastEvaluatedKey")

    def set_pointer(self, version_id: str, kind: str, content: dict[str, Any]) -> None:
        """A named pointer (e.g. the active definition of a system); unlike entries, it is overwritten."""
        self.table.put_item(Item={"version_id": version_id, "kind": kind, "content": content, "created_at": utc_now()})

    # Systems published by the edge: one overwritten pointer per system name.
    def active_system(self, name: str) -> dict[str, Any] | None:
        item = self.get(f"{ACTIVE_SYSTEM_KIND}:{name}")
        return item["content"] if item else None

    def active_systems(self) -> list[dict[str, Any]]:
        items, _ = self.page_by_kind(ACTIVE_SYSTEM_KIND, limit=100)
        return sorted((item["content"] | {"updated_at": item["created_at"]} for item in items), key=lambda s: s["name"])

    def set_active_system(self, pointer: dict[str, Any]) -> None:
        self.set_pointer(f"{ACTIVE_SYSTEM_KIND}:{pointer['name']}", ACTIVE_SYSTEM_KIND, pointer)

    # The edge's heartbeat: which embedding model it runs, and when it was last seen.
    def active_embedding(self) -> dict[str, Any] | None:
        item = self.get(ACTIVE_EMBEDDING_ID)
        return item["content"] if item else None

    def set_active_embedding(self, content: dict[str, Any]) -> None:
        self.set_pointer(ACTIVE_EMBEDDING_ID, "active-embedding", content)
