"""The registry table: content-addressed entries (written once, listed by kind) and two kinds of pointers.

Entries hold client JSON: written through to_dynamo and read back as plain JSON values (any JSON number survives).

Pointers are overwritten: the active definition of each published system, the edge's embedding model with the
time it last reported (its heartbeat), and each edge's last report of its work.

Each entry or pointer is one DynamoDB item: one larger than MAX_ITEM_BYTES is refused with a 413 before it is
written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from functions.clock import utc_now
from functions.stores.dynamo import check_item_size, conditionally, plain, query_all, table, to_dynamo
from functions.stores.paging import Page, query_page
from schemas.lineage import RegistryEntry

BY_KIND = "by_kind"
# The kinds GET /registry lists: what the summarizer, the system publisher and the edge write.
REGISTRY_KINDS = (
    "summarizer-model",
    "summarizer-prompt",
    "translator-model",
    "translator-prompt",
    "translator-adapter",
    "schema",
    "system",
    "eval-result",
    "embedding-model",
)
ACTIVE_SYSTEM_KIND = "active-system"
ACTIVE_EMBEDDING_KIND = "active-embedding"
ACTIVE_EMBEDDING_ID = f"{ACTIVE_EMBEDDING_KIND}:edge"
EDGE_STATE_KIND = "edge-state"


class RegistryStore:
    def __init__(self, table_name: str) -> None:
        self.table = table(table_name)

    def put(self, entry: RegistryEntry) -> bool:
        """Store an entry; False if that version was already known (content-addressed, so nothing changes).
        Raises 422 (unstorable_number) or 413 (content_too_large) before writing anything."""
        return self._put_new(self._storable(entry))

    def put_all(self, entries: Iterable[RegistryEntry]) -> list[bool]:
        """Store several entries, each checked storable first: a 422 (unstorable_number) or 413 (content_too_large)
        leaves none of them."""
        items = [self._storable(entry) for entry in entries]
        return [self._put_new(item) for item in items]

    @staticmethod
    def _storable(entry: RegistryEntry) -> dict[str, Any]:
        """The entry's item as written; raises 422 (unstorable_number) or 413 (content_too_large: its size and the
        limit)."""
        item = to_dynamo(entry.model_dump())
        check_item_size(f"the {entry.kind} registry entry {entry.version_id}", item)
        return item

    def _put_new(self, item: dict[str, Any]) -> bool:
        return conditionally(self.table.put_item, Item=item, ConditionExpression=Attr("version_id").not_exists())

    def get(self, version_id: str) -> dict[str, Any] | None:
        item = self.table.get_item(Key={"version_id": version_id}).get("Item")
        return plain(item) if item else None

    def entry(self, version_id: str, kind: str) -> dict[str, Any] | None:
        """The entry with this id if it is of `kind`."""
        item = self.get(version_id)
        return item if item and item.get("kind") == kind else None

    def page(self, kind: str, limit: int, next_token: str | None) -> Page:
        """Entries of one kind, newest first."""
        items, token = query_page(
            self.table,
            limit=limit,
            next_token=next_token,
            IndexName=BY_KIND,
            KeyConditionExpression=Key("kind").eq(kind),
            ScanIndexForward=False,
        )
        return [plain(item) for item in items], token

    def _set_pointer(self, version_id: str, kind: str, content: dict[str, Any]) -> None:
        """Overwrite a pointer; raises 422 (unstorable_number) or 413 (content_too_large) before writing."""
        item = to_dynamo({"version_id": version_id, "kind": kind, "content": content, "created_at": utc_now()})
        check_item_size(f"the {kind} pointer {version_id}", item)
        self._put_pointer(item)

    def _put_pointer(self, item: dict[str, Any]) -> None:
        self.table.put_item(Item=item)

    def _all_of_kind(self, kind: str) -> Iterator[dict[str, Any]]:
        items = query_all(self.table, IndexName=BY_KIND, KeyConditionExpression=Key("kind").eq(kind))
        return (plain(item) for item in items)

    # ----- systems published by the edge: one pointer per system name -----
    def active_system(self, name: str) -> dict[str, Any] | None:
        item = self.get(f"{ACTIVE_SYSTEM_KIND}:{name}")
        return item["content"] if item else None

    def active_systems(self) -> list[dict[str, Any]]:
        """Each published system's pointer with the time it was set (`updated_at`), by name."""
        items = self._all_of_kind(ACTIVE_SYSTEM_KIND)
        return sorted((item["content"] | {"updated_at": item["created_at"]} for item in items), key=lambda s: s["name"])

    def set_active_system(self, pointer: dict[str, Any]) -> None:
        self._set_pointer(f"{ACTIVE_SYSTEM_KIND}:{pointer['name']}", ACTIVE_SYSTEM_KIND, pointer)

    def retire_system(self, name: str) -> dict[str, Any] | None:
        """Remove the system's pointer (its definition and schema entries stay, for lineage); the pointer removed,
        or None when it was not published."""
        return self._drop_pointer(f"{ACTIVE_SYSTEM_KIND}:{name}")

    def _drop_pointer(self, version_id: str) -> dict[str, Any] | None:
        held = self.table.delete_item(Key={"version_id": version_id}, ReturnValues="ALL_OLD").get("Attributes")
        return plain(held)["content"] if held else None

    # ----- the edge's heartbeat: which embedding model it runs, and when it was last seen -----
    def active_embedding(self) -> dict[str, Any] | None:
        item = self.get(ACTIVE_EMBEDDING_ID)
        return item["content"] if item else None

    def set_active_embedding(self, content: dict[str, Any]) -> None:
        self._set_pointer(ACTIVE_EMBEDDING_ID, ACTIVE_EMBEDDING_KIND, content)

    # ----- each edge worker's last report: its model, queues and the job in flight (one pointer per edge) -----
    def edge_state(self, name: str) -> dict[str, Any] | None:
        item = self.get(f"{EDGE_STATE_KIND}:{name}")
        return item["content"] if item else None

    def edge_states(self) -> list[dict[str, Any]]:
        """Every edge that reported, by name."""
        return sorted((item["content"] for item in self._all_of_kind(EDGE_STATE_KIND)), key=lambda e: e["name"])

    def set_edge_state(self, content: dict[str, Any]) -> None:
        self._set_pointer(f"{EDGE_STATE_KIND}:{content['name']}", EDGE_STATE_KIND, content)
