"""The edge's only way into the cloud: the edge routes of the HTTP API, with a scoped token.

Requests and answers are the contracts of schemas.edge_api; every path comes from schemas.routes.
"""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from schemas import routes
from schemas.edge_api import (
    DistillAnswer,
    DistillRequest,
    EdgeSummary,
    EmbeddingStored,
    EmbeddingUpload,
    Heartbeat,
    HeartbeatReply,
    PendingPage,
    QueryEmbeddingStored,
    QueryEmbeddingUpload,
    RecordStored,
    RecordUpload,
    RegistryStored,
    RegistryUpload,
    SystemPublished,
    SystemRetired,
)

Answer = TypeVar("Answer", bound=BaseModel)


class ApiUnavailable(RuntimeError):
    """The API could not be reached, was busy (429) or failed on its side (5xx): keep the work and try later.

    `status` is the HTTP status when the API answered, None when it could not be reached.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


# API Gateway answers these itself (a bare {"message": ...}) when the Lambda authorizer refuses the request.
GATEWAY_REFUSALS = {
    401: "no token was sent: set SSP_API_TOKEN, or keep one with `python -m edge_worker token-store`",
    403: "the API does not know this token (mistyped, revoked or expired): make a new one with the edge scope and "
    "set it as SSP_API_TOKEN or with `python -m edge_worker token-store`",
}


class ApiRejected(RuntimeError):
    """The API refused the request (4xx other than 429): sending it again as it is will not help."""

    def __init__(self, status: int, body: Any) -> None:
        message = body.get("message") if isinstance(body, dict) else str(body)
        if status in (401, 403) and isinstance(body, dict) and "error" not in body:  # API Gateway's, not ours
            message = GATEWAY_REFUSALS.get(status, message)
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.body = status, body

    @property
    def summary_gone(self) -> bool:
        """The summary was deleted (or never was): its work is dropped, not an error. A 404/410 of the API's own
        (an `error` code, not unknown_system): API Gateway's bare {"message": "Not Found"} means a wrong URL."""
        code = self.body.get("error") if isinstance(self.body, dict) else None
        return self.status in (404, 410) and code is not None and code != "unknown_system"


def body_of(upload: BaseModel) -> dict[str, Any]:
    """An upload as the JSON body the API takes (and the outbox keeps)."""
    return upload.model_dump(mode="json")


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
        try:
            data = response.json()
        except ValueError:
            data = response.text
        if response.status_code >= 500 or response.status_code == 429:
            message = data.get("message") if isinstance(data, dict) else None
            detail = f": {message}" if message else ""
            raise ApiUnavailable(f"{method} {path}: HTTP {response.status_code}{detail}", response.status_code)
        if response.status_code >= 400:
            raise ApiRejected(response.status_code, data)
        return data

    def _answer(
        self, model: type[Answer], method: str, path: str, body: Any = None, params: dict | None = None
    ) -> Answer:
        data = self._call(method, path, body, params)
        try:
            return model.model_validate(data)
        except ValidationError as error:
            raise ApiUnavailable(f"{method} {path}: the answer is not a {model.__name__}: {error}") from error

    def summary(self, summary_id: str, request_id: str | None = None) -> EdgeSummary:
        """`request_id`: a refresh's, to learn which systems it already stored (`stored_for_request`)."""
        path = routes.path(routes.EDGE_SUMMARY, summary_id=summary_id)
        return self._answer(EdgeSummary, "GET", path, params={"request_id": request_id} if request_id else None)

    def pending_page(self, next_token: str | None = None, limit: int = 100) -> PendingPage:
        params = {"limit": str(limit), **({"next": next_token} if next_token else {})}
        return self._answer(PendingPage, "GET", routes.EDGE_PENDING, params=params)

    def put_record(self, summary_id: str, system: str, upload: RecordUpload) -> RecordStored:
        path = routes.path(routes.EDGE_RECORD, summary_id=summary_id, system=system)
        return self._answer(RecordStored, "PUT", path, body_of(upload))

    def retire_system(self, name: str) -> SystemRetired:
        return self._answer(SystemRetired, "DELETE", routes.path(routes.EDGE_SYSTEM, system=name))

    def put_registry(self, version_id: str, upload: RegistryUpload) -> RegistryStored:
        path = routes.path(routes.EDGE_REGISTRY, version_id=version_id)
        return self._answer(RegistryStored, "PUT", path, body_of(upload))

    def put_system(self, name: str, definition: dict[str, Any]) -> SystemPublished:
        """`definition`: a system definition in its file shape (schemas.system_definition)."""
        return self._answer(SystemPublished, "PUT", routes.path(routes.EDGE_SYSTEM, system=name), definition)

    def put_embedding(self, summary_id: str, upload: EmbeddingUpload) -> EmbeddingStored:
        path = routes.path(routes.EDGE_EMBEDDING, summary_id=summary_id)
        return self._answer(EmbeddingStored, "PUT", path, body_of(upload))

    def put_query_embedding(self, query_id: str, upload: QueryEmbeddingUpload) -> QueryEmbeddingStored:
        path = routes.path(routes.EDGE_QUERY_EMBEDDING, query_id=query_id)
        return self._answer(QueryEmbeddingStored, "PUT", path, body_of(upload))

    def heartbeat(self, beat: Heartbeat) -> HeartbeatReply:
        return self._answer(HeartbeatReply, "PUT", routes.EDGE_HEARTBEAT, body_of(beat))

    def distill(self, request: DistillRequest) -> DistillAnswer:
        return self._answer(DistillAnswer, "POST", routes.EDGE_DISTILL, body_of(request))

    def send(self, method: str, path: str, body: Any) -> Any:
        """Replay of a stored request (the outbox): its JSON answer."""
        return self._call(method, path, body)

    def close(self) -> None:
        self.client.close()
