"""POST /sessions, GET /sessions/{session_id}, POST /sessions/{session_id}/retry."""

from __future__ import annotations

import json

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from functions.common.auth import Principal
from functions.common.errors import ClientError, register_error_handlers
from functions.common.path_params import checked
from functions.common.queues import Queues
from functions.common.request_body import parse_contract, parse_json, raw_body, require_json_content_type
from functions.common.session_store import SessionStore
from functions.common.settings import Settings
from functions.common.views import session_view
from functions.ingest.service import IngestService
from schemas.contracts import Session, SessionAccepted

settings = Settings.from_env()
logger = Logger()
app = APIGatewayHttpResolver()
register_error_handlers(app)
service = IngestService(
    SessionStore(settings.sessions_table, settings.data_bucket),
    Queues(settings.summarize_queue_url, settings.edge_queue_url),
)


def _json(status: int, body: dict, headers: dict | None = None) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body), headers=headers)


@app.post("/sessions")
def post_session() -> Response:
    principal = Principal.from_event(app.current_event.raw_event)
    principal.require("ingest")
    require_json_content_type(app.current_event.raw_event)
    data = parse_json(raw_body(app.current_event.raw_event, settings.max_session_bytes))
    session = parse_contract(Session, data)
    principal.require_source(session.source)
    if len(session.turns) > settings.max_turns:
        raise ClientError(
            "too_many_turns", f"session has {len(session.turns)} turns; the limit is {settings.max_turns}", status=413
        )
    accepted = service.accept(session)
    status_url = f"/sessions/{session.session_id}"
    body = SessionAccepted(session_id=session.session_id, status=accepted.item["status"], status_url=status_url)
    logger.info(
        "session accepted" if accepted.created else "session already accepted",
        session_id=session.session_id,
        source=session.source,
    )
    return _json(202 if accepted.created else 200, body.model_dump(mode="json"), {"Location": status_url})


@app.get("/sessions/<session_id>")
def get_session(session_id: str) -> Response:
    principal = Principal.from_event(app.current_event.raw_event)
    principal.require("ingest", "read")
    session_id = checked(session_id, "id", "session_id")
    item = service.get(session_id)
    if not principal.has("read"):
        principal.require_source(item["source"])
    return _json(200, session_view(item))


@app.post("/sessions/<session_id>/retry")
def retry_session(session_id: str) -> Response:
    principal = Principal.from_event(app.current_event.raw_event)
    principal.require("ingest")
    session_id = checked(session_id, "id", "session_id")
    principal.require_source(service.get(session_id)["source"])
    return _json(202, session_view(service.retry(session_id)))


@logger.inject_lambda_context
def lambda_handler(event: dict, context) -> dict:
    return app.resolve(event, context)
