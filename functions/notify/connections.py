"""Open dashboard connections: one partition, queried (never scanned), pruned when a client is gone."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key

CHANNEL = "dashboard"
CONNECTION_TTL_SECONDS = 2 * 3600  # API Gateway closes WebSocket connections after two hours


class Connections:
    def __init__(self, table_name: str) -> None:
        self.table = boto3.resource("dynamodb").Table(table_name)
        self._management = None

    @property
    def management(self):
        if self._management is None:
            self._management = boto3.client(
                "apigatewaymanagementapi", endpoint_url=os.environ["WEBSOCKET_MANAGEMENT_URL"]
            )
        return self._management

    def add(self, connection_id: str, name: str) -> None:
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

    def broadcast(self, message: dict[str, Any]) -> int:
        data, sent, kwargs = json.dumps(message).encode(), 0, {}
        while True:
            page = self.table.query(KeyConditionExpression=Key("channel").eq(CHANNEL), **kwargs)
            for item in page.get("Items", []):
                try:
                    self.management.post_to_connection(ConnectionId=item["connection_id"], Data=data)
                    sent += 1
                except self.management.exceptions.GoneException:
                    self.remove(item["connection_id"])
            if "LastEvaluatedKey" not in page:
                return sent
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
