"""The connections table: open dashboard WebSocket connections in one partition, queried (never scanned)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from boto3.dynamodb.conditions import Key

from functions.stores.dynamo import query_all, table

CHANNEL = "dashboard"
CONNECTION_TTL_SECONDS = 2 * 3600  # API Gateway closes WebSocket connections after two hours


class ConnectionStore:
    def __init__(self, table_name: str) -> None:
        self.table = table(table_name)

    def add(self, connection_id: str, name: str) -> None:
        """`name` is the token holder's, as the authorizer reported it."""
        self.table.put_item(
            Item={
                "channel": CHANNEL,
                "connection_id": connection_id,
                "name": name,
                "expires_at": int(time.time()) + CONNECTION_TTL_SECONDS,
            }
        )

    def remove(self, connection_id: str) -> None:
        self.table.delete_item(Key={"channel": CHANNEL, "connection_id": connection_id})

    def ids(self) -> Iterator[str]:
        items = query_all(self.table, KeyConditionExpression=Key("channel").eq(CHANNEL))
        return (item["connection_id"] for item in items)
