"""BatchGetItem over any number of keys: pages of 100, with what DynamoDB left unprocessed asked again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

BATCH_GET_LIMIT = 100


def batch_get(table: Any, keys: list[dict[str, Any]], projection: str | None = None) -> Iterator[dict[str, Any]]:
    """The items of `table` (a boto3 resource Table) found for `keys`, in no particular order."""
    client = table.meta.client
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        request_for_table: dict[str, Any] = {"Keys": keys[start : start + BATCH_GET_LIMIT]}
        if projection:
            request_for_table["ProjectionExpression"] = projection
        request: dict[str, Any] | None = {table.name: request_for_table}
        while request:
            response = client.batch_get_item(RequestItems=request)
            yield from response["Responses"].get(table.name, [])
            request = response.get("UnprocessedKeys") or None
