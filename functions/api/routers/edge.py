"""Edge routes: the worker's pending work, summaries, uploads (records, registry, systems, embeddings), heartbeat."""

from __future__ import annotations

from typing import TypeVar

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from functions.api.edge_status import EdgeStatus
from functions.api.edge_sync import EdgeSync
from functions.api.embedding_sync import EmbeddingSync
from functions.http.params import page_args, query, request_id_param
from functions.http.request_body import MAX_BODY_BYTES, contract_body, json_body
from functions.http.responses import contract_response
from functions.http.routing import principal, rule, scoped
from schemas import routes
from schemas.edge_api import (
    EmbeddingUpload,
    Heartbeat,
    HeartbeatReply,
    QueryEmbeddingUpload,
    RecordUpload,
    RegistryUpload,
)

Upload = TypeVar("Upload", RecordUpload, RegistryUpload, EmbeddingUpload, QueryEmbeddingUpload, Heartbeat)


def build(edge: EdgeSync, embeddings: EmbeddingSync, status: EdgeStatus) -> Router:
    router = Router()

    def body(model: type[Upload]) -> Upload:
        return contract_body(router.current_event.raw_event, model, MAX_BODY_BYTES)

    @router.get(rule(routes.EDGE_PENDING), middlewares=scoped("edge"))
    def pending() -> Response:
        return contract_response(edge.pending(*page_args(query(router.current_event))))

    @router.get(rule(routes.EDGE_SUMMARY), middlewares=scoped("edge"))
    def summary(summary_id: str) -> Response:
        return contract_response(edge.summary(summary_id, request_id_param(query(router.current_event))))

    @router.put(rule(routes.EDGE_RECORD), middlewares=scoped("edge"))
    def put_record(summary_id: str, system: str) -> Response:
        stored = edge.put_record(summary_id, system, body(RecordUpload), principal(router).name)
        return contract_response(stored, 201 if stored.outcome == "created" else 200)

    @router.put(rule(routes.EDGE_SYSTEM), middlewares=scoped("edge"))
    def put_system(system: str) -> Response:
        definition = json_body(router.current_event.raw_event, MAX_BODY_BYTES)
        return contract_response(edge.publish_system(system, definition))

    @router.delete(rule(routes.EDGE_SYSTEM), middlewares=scoped("edge"))
    def retire_system(system: str) -> Response:
        return contract_response(edge.retire_system(system))

    @router.put(rule(routes.EDGE_REGISTRY), middlewares=scoped("edge"))
    def put_registry(version_id: str) -> Response:
        stored = edge.put_registry(version_id, body(RegistryUpload))
        return contract_response(stored, 201 if stored.created else 200)

    @router.put(rule(routes.EDGE_EMBEDDING), middlewares=scoped("edge"))
    def put_embedding(summary_id: str) -> Response:
        return contract_response(embeddings.put_summary_embedding(summary_id, body(EmbeddingUpload)))

    @router.put(rule(routes.EDGE_QUERY_EMBEDDING), middlewares=scoped("edge"))
    def put_query_embedding(query_id: str) -> Response:
        return contract_response(embeddings.put_query_embedding(query_id, body(QueryEmbeddingUpload)))

    @router.put(rule(routes.EDGE_HEARTBEAT), middlewares=scoped("edge"))
    def heartbeat() -> Response:
        beat = body(Heartbeat)
        reply = embeddings.heartbeat(beat) if beat.embedding_version else HeartbeatReply(changed=False)
        status.report(principal(router).name, beat)
        return contract_response(reply)

    return router
