"""The changes table: every record change per system, numbered 1, 2, 3, ... (the change feed and its events).

An entry is (system, seq); the item (system, 0) counts the entries made. A record write appends its entry in
the same transaction that advances the counter on the condition that it still holds the number read, so each
number is used once, none is skipped, and an entry is readable only after every earlier one is (Queries of the
base table with consistent reads). Entries of a deleted session are removed; its "deleted" entries stay.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from boto3.dynamodb.conditions import Key

from functions.stores.dynamo import batch_delete, table

COUNTER_SEQ = 0
ENTRY_FIELDS = ("summary_id", "change", "version", "changed_at", "author", "document_hash")


class ChangeLog:
    def __init__(self, table_name: str) -> None:
        self.table, self.table_name = table(table_name), table_name

    def last_seq(self, system: str) -> int:
        """The number of the system's latest entry (0: none yet)."""
        key = {"system": system, "seq": COUNTER_SEQ}
        item = self.table.get_item(Key=key, ConsistentRead=True).get("Item")
        return int(item["last_seq"]) if item else 0

    def append(self, system: str, last_seq: int, entry: dict[str, Any]) -> list[dict[str, Any]]:
        """TransactWriteItems entries that store `entry` as number last_seq + 1 and advance the counter.

        The transaction is cancelled (reason on the first of the two) when another writer appended first.
        """
        seq = last_seq + 1
        condition = "attribute_not_exists(last_seq)" if last_seq == 0 else "last_seq = :last"
        values: dict[str, Any] = {":seq": seq, **({":last": last_seq} if last_seq else {})}
        return [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": {"system": system, "seq": COUNTER_SEQ},
                    "UpdateExpression": "SET last_seq = :seq",
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": values,
                }
            },
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": {"system": system, "seq": seq, **{k: v for k, v in entry.items() if v is not None}},
                    "ConditionExpression": "attribute_not_exists(seq)",
                }
            },
        ]

    def page(self, system: str, since: int, limit: int) -> tuple[list[dict[str, Any]], bool]:
        """Up to `limit` entries after `since`, oldest first, and whether more may follow."""
        page = self.table.query(
            KeyConditionExpression=Key("system").eq(system) & Key("seq").gt(since),
            ConsistentRead=True,
            Limit=limit,
        )
        return page.get("Items", []), "LastEvaluatedKey" in page

    def forget(self, system: str, seqs: Iterable[int]) -> None:
        """Remove entries (those that carry a deleted session's documents)."""
        batch_delete(self.table, [{"system": system, "seq": seq} for seq in seqs if seq > COUNTER_SEQ])


def entry_document(entry: dict[str, Any]) -> Any:
    """The inline document of an entry (None when it is in S3 or the change is a deletion)."""
    return json.loads(entry["document"]) if "document" in entry else None
