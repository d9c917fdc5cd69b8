"""The refresh table: refresh requests with their progress, the keys that coalesce repeated selections, the pieces
already counted, and the pieces a backfill has queued."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr

from functions.stores.dynamo import conditionally, plain, table, to_dynamo

KEY_PREFIX = "key:"  # a coalescing key's item, beside the requests (rf-...) in the same table
DONE_PREFIX = "done:"  # one item per counted piece of a request: a re-sent upload counts once
QUEUED_PREFIX = "queued:"  # one item per piece a backfill has queued and not seen stored yet
_INTERNAL = (KEY_PREFIX, DONE_PREFIX, QUEUED_PREFIX)


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

    def reclaim(self, selection: str, request_id: str, finished: str, now_s: int, window_s: int) -> bool:
        """Claim `selection` for `request_id` from the request `finished` that held it; False if another took it."""
        return conditionally(
            self.table.put_item,
            Item={
                "request_id": KEY_PREFIX + selection,
                "current": request_id,
                "created_epoch": now_s,
                "expires_at": now_s + window_s,
            },
            ConditionExpression=Attr("current").eq(finished),
        )

    def put(self, request: dict[str, Any]) -> None:
        self.table.put_item(Item=to_dynamo(request))

    def get(self, request_id: str) -> dict[str, Any] | None:
        if request_id.startswith(_INTERNAL):
            return None
        item = self.table.get_item(Key={"request_id": request_id}, ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def complete_one(self, request_id: str, piece: str, expires_at: int) -> bool:
        """Count one finished piece of a request (a summary and system, or a summary's embedding) once, whatever the
        re-sends; the request is `in_progress` from its first piece and `done` once completed reaches queued.

        False when that piece was counted before (or the request is unknown).
        """
        first = conditionally(
            self.table.put_item,
            Item={"request_id": f"{DONE_PREFIX}{request_id}:{piece}", "expires_at": expires_at},
            ConditionExpression=Attr("request_id").not_exists(),
        )
        if not first:
            return False
        counted = conditionally(
            self.table.update_item,
            Key={"request_id": request_id},
            UpdateExpression="ADD completed :one SET #s = :progress",
            ConditionExpression=Attr("request_id").exists() & Attr("status").ne("done"),
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":one": 1, ":progress": "in_progress"},
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
        return counted

    def counted(self, request_id: str, pieces: list[str]) -> set[str]:
        """Which of `pieces` were already counted towards `request_id` (complete_one)."""
        return {
            piece
            for piece in pieces
            if "Item"
            in self.table.get_item(Key={"request_id": f"{DONE_PREFIX}{request_id}:{piece}"}, ConsistentRead=True)
        }

    def claim_queued(self, piece: str, request_id: str, now_s: int, expires_at: int) -> bool:
        """Mark `piece` as queued by the backfill `request_id`; False when an earlier backfill still has it queued."""
        return conditionally(
            self.table.put_item,
            Item={"request_id": QUEUED_PREFIX + piece, "current": request_id, "expires_at": expires_at},
            ConditionExpression=Attr("request_id").not_exists() | Attr("expires_at").lt(now_s),
        )

    def release_queued(self, piece: str) -> str | None:
        """Clear `piece`'s queued mark (its work was stored); the backfill request that had queued it, if any."""
        answer = self.table.delete_item(Key={"request_id": QUEUED_PREFIX + piece}, ReturnValues="ALL_OLD")
        held = answer.get("Attributes")
        return str(held["current"]) if held else None
