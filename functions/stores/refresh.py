"""The refresh table: refresh requests with their progress, the keys that coalesce repeated selections, the pieces
already counted, and the pieces a backfill has queued."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr

from functions.stores.dynamo import conditionally, plain, table, to_dynamo

RETENTION_SECONDS = 7 * 24 * 3600  # how long a request, its marks and counts are kept
KEY_PREFIX = "key:"  # a coalescing key's item, beside the requests (rf-...) in the same table
DONE_PREFIX = "done:"  # one item per counted piece of a request: a re-sent upload counts once
QUEUED_PREFIX = "queued:"  # one item per piece a backfill has queued and not seen stored yet
OPEN_PREFIX = "open:"  # one item per system: the set of unfinished requests with pieces of it
PENDING_PREFIX = "pending:"  # one item per summary: "request_id|system" for each of its pieces not yet counted
_INTERNAL = (KEY_PREFIX, DONE_PREFIX, QUEUED_PREFIX, OPEN_PREFIX, PENDING_PREFIX)


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
        """Store a request; one not done is listed under each system it has pieces of (drop_system finds it)."""
        self.table.put_item(Item=to_dynamo(request))
        if request.get("status") != "done":
            for system in request.get("queued_by_system") or {}:
                self._open_item(system, {request["request_id"]}, "ADD", int(request.get("expires_at", 0)))

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
        system = piece.rsplit("/", 1)[1]  # or "embed"
        counted = conditionally(
            self.table.update_item,
            Key={"request_id": request_id},
            UpdateExpression="ADD completed :one SET #s = :progress, "
            "completed_by_system.#n = if_not_exists(completed_by_system.#n, :zero) + :one",
            ConditionExpression=Attr("request_id").exists()
            & Attr("status").ne("done")
            & Attr("completed_by_system").exists(),
            ExpressionAttributeNames={"#s": "status", "#n": system},
            ExpressionAttributeValues={":one": 1, ":zero": 0, ":progress": "in_progress"},
        ) or conditionally(  # a request made before the per-system counts
            self.table.update_item,
            Key={"request_id": request_id},
            UpdateExpression="ADD completed :one SET #s = :progress",
            ConditionExpression=Attr("request_id").exists() & Attr("status").ne("done"),
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":one": 1, ":progress": "in_progress"},
        )
        if counted:
            self._done_when_complete(request_id)
        return counted

    def _done_when_complete(self, request_id: str) -> None:
        if conditionally(
            self.table.update_item,
            Key={"request_id": request_id},
            UpdateExpression="SET #s = :done",
            ConditionExpression="completed >= queued",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":done": "done"},
        ):
            item = self.get(request_id) or {}
            for system in item.get("queued_by_system") or {}:
                self._open_item(system, {request_id}, "DELETE")

    def _open_item(self, system: str, request_ids: set[str], action: str, expires_at: int = 0) -> None:
        """ADD `request_ids` to (or DELETE them from) the set of unfinished requests with pieces of `system`."""
        self.table.update_item(
            Key={"request_id": OPEN_PREFIX + system},
            UpdateExpression=f"{action} requests :ids" + (" SET expires_at = :e" if action == "ADD" else ""),
            ExpressionAttributeValues={":ids": request_ids} | ({":e": expires_at} if action == "ADD" else {}),
        )

    def drop_system(self, system: str) -> list[str]:
        """Stop waiting for `system`'s pieces (it was retired): each unfinished request's pieces of it not yet
        counted leave its `queued` and go to `dropped`, so the request can end `done`. The ids of the requests that
        had pieces dropped. A backfill's queued pieces of it are freed lazily: claim_queued takes over a piece whose
        request is done."""
        held = self.table.get_item(Key={"request_id": OPEN_PREFIX + system}, ConsistentRead=True).get("Item") or {}
        listed = set(held.get("requests") or ())
        dropped = [request_id for request_id in sorted(listed) if self._drop(request_id, system)]
        if listed:
            self._open_item(system, listed, "DELETE")  # those done before, and those just dropped
        return dropped

    def _drop(self, request_id: str, system: str) -> bool:
        for _ in range(3):  # a piece of it counted meanwhile: read the counts again
            item = self.get(request_id) or {}
            queued = int((item.get("queued_by_system") or {}).get(system, 0))
            completed = int((item.get("completed_by_system") or {}).get(system, 0))
            if item.get("status") == "done" or queued <= completed:
                return False
            counted = Attr(f"completed_by_system.{system}")
            if conditionally(
                self.table.update_item,
                Key={"request_id": request_id},
                UpdateExpression="SET queued = queued - :left, queued_by_system.#n = :done, "
                "dropped = if_not_exists(dropped, :zero) + :left",
                ConditionExpression=(counted.eq(completed) if completed else counted.not_exists())
                & Attr("queued_by_system").exists(),
                ExpressionAttributeNames={"#n": system},
                ExpressionAttributeValues={":left": queued - completed, ":done": completed, ":zero": 0},
            ):
                self._done_when_complete(request_id)
                return True
        return False

    def mark_pending(self, summary_id: str, entries: set[str], expires_at: int, read_at: int) -> bool:
        """Note the summary's pieces a request waits for ("request_id|system", "embed" for its vector), so a
        deletion of the summary can drop them (drop_summary). False when the summary was purged at or after
        `read_at` (epoch seconds: when the request read its targets): nothing is noted, the caller drops them."""
        return conditionally(
            self.table.update_item,
            Key={"request_id": PENDING_PREFIX + summary_id},
            UpdateExpression="ADD entries :e SET expires_at = :x",
            ConditionExpression=Attr("gone_at").not_exists() | Attr("gone_at").lt(read_at),
            ExpressionAttributeValues={":e": entries, ":x": expires_at},
        )

    def clear_pending(self, summary_id: str, entries: set[str]) -> None:
        """The pieces were counted: nothing waits for them any more."""
        conditionally(
            self.table.update_item,
            Key={"request_id": PENDING_PREFIX + summary_id},
            UpdateExpression="DELETE entries :e",
            ConditionExpression=Attr("request_id").exists(),
            ExpressionAttributeValues={":e": entries},
        )

    def drop_summary(self, summary_id: str, now_s: int, expires_at: int) -> list[str]:
        """The summary was deleted: every request still waiting for a piece of it counts that piece as `dropped`
        (and a backfill's queued mark of it is cleared), so the request can end `done`. The ids of those requests."""
        # one write takes the entries and leaves a mark of when it went, so a request that read it as a target
        # just before does not wait for it
        held = (
            self.table.update_item(
                Key={"request_id": PENDING_PREFIX + summary_id},
                UpdateExpression="SET gone_at = :now, expires_at = :x REMOVE entries",
                ExpressionAttributeValues={":now": now_s, ":x": expires_at},
                ReturnValues="ALL_OLD",
            ).get("Attributes")
            or {}
        )
        return self.drop_pieces(summary_id, {str(entry) for entry in held.get("entries") or ()}, expires_at)

    def drop_pieces(self, summary_id: str, entries: set[str], expires_at: int) -> list[str]:
        """Count each of a deleted summary's pieces ("request_id|system") as dropped by its request; the ids of the
        requests that had one dropped."""
        dropped = []
        for entry in sorted(entries):
            request_id, system = entry.split("|", 1)
            piece = f"{summary_id}/{system}"
            if system != "embed":
                self.release_queued(piece)
            if self._drop_piece(request_id, piece, system, expires_at):
                dropped.append(request_id)
        return dropped

    def _drop_piece(self, request_id: str, piece: str, system: str, expires_at: int) -> bool:
        """Count `piece` of a request as dropped, once (an upload of it afterwards is not counted)."""
        first = conditionally(
            self.table.put_item,
            Item={"request_id": f"{DONE_PREFIX}{request_id}:{piece}", "dropped": True, "expires_at": expires_at},
            ConditionExpression=Attr("request_id").not_exists(),
        )
        if not first:
            return False
        waiting = Attr("request_id").exists() & Attr("status").ne("done")
        dropped = conditionally(  # a piece of it still uncounted (a retired system's were dropped already)
            self.table.update_item,
            Key={"request_id": request_id},
            UpdateExpression="SET queued = queued - :one, queued_by_system.#n = queued_by_system.#n - :one, "
            "dropped = if_not_exists(dropped, :zero) + :one",
            ConditionExpression="attribute_exists(request_id) AND #s <> :done AND (queued_by_system.#n > "
            "completed_by_system.#n OR (attribute_not_exists(completed_by_system.#n) AND queued_by_system.#n > :zero))",
            ExpressionAttributeNames={"#n": system, "#s": "status"},
            ExpressionAttributeValues={":one": 1, ":zero": 0, ":done": "done"},
        ) or conditionally(  # a request made before the per-system counts
            self.table.update_item,
            Key={"request_id": request_id},
            UpdateExpression="SET queued = queued - :one, dropped = if_not_exists(dropped, :zero) + :one",
            ConditionExpression=waiting & Attr("queued_by_system").not_exists() & Attr("queued").gt(0),
            ExpressionAttributeValues={":one": 1, ":zero": 0},
        )
        if dropped:
            self._done_when_complete(request_id)
        return dropped

    def counted(self, request_id: str, pieces: list[str]) -> set[str]:
        """Which of `pieces` were already counted towards `request_id` (complete_one)."""
        return {
            piece
            for piece in pieces
            if "Item"
            in self.table.get_item(Key={"request_id": f"{DONE_PREFIX}{request_id}:{piece}"}, ConsistentRead=True)
        }

    def claim_queued(
        self, piece: str, request_id: str, now_s: int, expires_at: int, finished: dict[str, bool] | None = None
    ) -> bool:
        """Mark `piece` as queued by the backfill `request_id`; False when an earlier backfill still has it queued
        (a piece held by a request that is done was dropped from it, and is taken over). `finished`: request id ->
        done, what the caller learnt of the holders so far (one read per holder for a whole backfill)."""
        item = {"request_id": QUEUED_PREFIX + piece, "current": request_id, "expires_at": expires_at}
        if conditionally(
            self.table.put_item,
            Item=item,
            ConditionExpression=Attr("request_id").not_exists() | Attr("expires_at").lt(now_s),
        ):
            return True
        mark = self.table.get_item(Key={"request_id": QUEUED_PREFIX + piece}, ConsistentRead=True).get("Item")
        finished = {} if finished is None else finished
        if mark and str(mark["current"]) not in finished:
            finished[str(mark["current"])] = (self.get(str(mark["current"])) or {}).get("status") == "done"
        if mark is None or finished[str(mark["current"])]:
            return conditionally(
                self.table.put_item,
                Item=item,
                ConditionExpression=Attr("current").eq(mark["current"]) if mark else Attr("request_id").not_exists(),
            )
        return False

    def release_queued(self, piece: str) -> str | None:
        """Clear `piece`'s queued mark (its work was stored); the backfill request that had queued it, if any."""
        answer = self.table.delete_item(Key={"request_id": QUEUED_PREFIX + piece}, ReturnValues="ALL_OLD")
        held = answer.get("Attributes")
        return str(held["current"]) if held else None
