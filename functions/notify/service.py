"""Dashboard live updates: remember open WebSocket connections and push each change message to all of them."""

from __future__ import annotations

import json
from typing import Any

import boto3

from functions.stores.connections import ConnectionStore


class ConnectionsApi:
    """API Gateway's @connections management API: post to one connection (the client is made on first use)."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self._client: Any = None

    def post(self, connection_id: str, data: bytes) -> bool:
        """False when the connection is gone."""
        if self._client is None:
            self._client = boto3.client("apigatewaymanagementapi", endpoint_url=self.endpoint_url)
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except self._client.exceptions.GoneException:
            return False
        return True


class Notifier:
    def __init__(self, connections: ConnectionStore, api: ConnectionsApi) -> None:
        self.connections, self.api = connections, api

    def connect(self, connection_id: str, name: str) -> None:
        self.connections.add(connection_id, name)

    def disconnect(self, connection_id: str) -> None:
        self.connections.remove(connection_id)

    def broadcast(self, message: dict[str, Any]) -> int:
        """Send `message` (JSON) to every open connection; returns how many got it. Gone ones are forgotten."""
        data, sent = json.dumps(message).encode(), 0
        for connection_id in list(self.connections.ids()):
            if self.api.post(connection_id, data):
                sent += 1
            else:
                self.connections.remove(connection_id)
        return sent
