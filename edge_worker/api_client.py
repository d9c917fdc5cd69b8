"""The edge's only way into the cloud: the edge routes of the HTTP API, with a scoped token."""

from __future__ import annotations

from typing import Any

import httpx


class ApiUnavailable(RuntimeError):
    """The API could not be reached (or failed on its side): keep the work and try later."""


class ApiRejected(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        message = body.get("message") if isinstance(body, dict) else str(body)
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.body = status, body


class EdgeApi:
    def __init__(self, base_url: str, token: str, timeout: float = 30.0) -> None:
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, headers={"authorization": f"Bearer {token}"}
        )

    def _call(self, method: str, path: str, body: Any = None, params: dict | None = None) -> Any:
        try:
            response = self.client.request(method, path, json=body, params=params)
        except httpx.HTTPError as exc:
            raise ApiUnavailable(f"{method} {path}: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise ApiUnavailable(f"{method} {path}: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            data = response.text
        if response.status_code >= 400:
            raise ApiRejected(response.status_code, data)
        return data

    def summary(self, summary_id: str) -> dict[str, Any]:
        return self._call("GET", f"/edge/summaries/{summary_id}")

    def pending_page(self, next_token: str | None = None, limit: int = 100) -> dict[str, Any]:
        params = {"limit": str(limit), **({"next": next_token} if next_token else {})}
        return self._call("GET", "/edge/pending", params=params)

    def put_record(self, summary_id: str, system: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", f"/edge/summaries/{summary_id}/systems/{system}", body)

    def put_registry(self, version_id: str, kind: str, content: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", f"/edge/registry/{version_id}", {"kind": kind, "content": content})

    def put_system(self, name: str, definition: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", f"/edge/systems/{name}", definition)

    def put_embedding(self, summary_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", f"/edge/summaries/{summary_id}/embedding", body)

    def put_query_embedding(self, query_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", f"/edge/queries/{query_id}/embedding", body)

    def heartbeat(self, embedding_version: str) -> dict[str, Any]:
        return self._call("PUT", "/edge/heartbeat", {"embedding_version": embedding_version})

    def send(self, method: str, path: str, body: Any) -> Any:
        """Replay of a stored request (the outbox)."""
        return self._call(method, path, body)

    def close(self) -> None:
        self.client.close()
