"""The refresh table: refresh requests with their progress, and the keys that coalesce repeated selections."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr

from functions.stores.dynamo import conditionally, plain, table, to_dynamo

KEY_PREFIX = "key:"  # a coalescing key's item, beside the requests (rf-...) in the same table


class RefreshStore:
    def __init__(self, table_name: str) -> None:
        self.table = table(table_name)

    def coalesce(self, selection: str, request_id: str, now_s: int, window_s: int) -> str | None:
        """Claim `selection` (a digest) for `request_id` for `window_s` seconds.

        None when claimed; else the id of the request that made the same selection within the window.
        """
        key = KEY_PREFIX + selection
        claimed = conditionally(
            self.table.put_item,
            Item={"request_id": key, "current": request_id, "created_epoch": now_s, "expires_at": now_s + window_s},
            ConditionExpression=Attr("request_id").not_exists() | Attr("created_epoch").lt(now_s - window_s),
        )
        if claimed:
            return None
        return str(self.table.get_item(Key={"request_id": key}, ConsistentRead=True)["Item"]["current"])

    def put(self, request: dict[str, Any]) -> None:
        self.table.put_item(Item=to_dynamo(request))

    def get(self, request_id: str) -> dict[str, Any] | None:
        if request_id.startswith(KEY_PREFIX):
            return None
        item = self.table.get_item(Key={"request_id": request_id}, ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def complete_one(self, request_id: str) -> None:
        """Count one finished piece of work; the request is `done` once completed reaches queued."""
        counted = conditionally(
            self.table.update_item,
            Key={"request_id": request_id},
            UpdateExpression="ADD completed :one",
            ConditionExpression=Attr("request_id").exists(),
            ExpressionAttributeValues={":one": 1},
        )
        if counted:
            conditionally(
                self.table.update_item,
                Key={"request_id": request_id},
                UpdateExpression="SET #s = :done",
                ConditionExpression="completed >= queued",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":done": "done"},
            )
