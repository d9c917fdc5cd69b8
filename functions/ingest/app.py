"""IngestFunction: POST /sessions, GET /sessions/{session_id}, POST /sessions/{session_id}/retry."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.http.request_body import contract_body
from functions.http.responses import json_response, register_error_handlers
from functions.http.routing import principal, rule, scoped
from functions.http.views import session_view
from functions.ingest.wiring import build
from schemas import routes
from schemas.contracts import Session, SessionAccepted

logger = Logger()
ingest = build()
app = APIGatewayHttpResolver()
register_error_handlers(app)


@app.post(rule(routes.SESSIONS), middlewares=scoped("ingest"))
def post_session() -> Response:
    session = contract_body(app.current_event.raw_event, Session, ingest.max_session_bytes)
    accepted = ingest.service.accept(session, principal(app))
    status_url = routes.SESSION.format(session_id=session.session_id)
    body = SessionAccepted(session_id=session.session_id, status=accepted.item["status"], status_url=status_url)
    logger.info(
        "session accepted" if accepted.created else "session already accepted",
        session_id=session.session_id,
        source=session.source,
    )
    return json_response(body.model_dump(mode="json"), 202 if accepted.created else 200, {"Location": status_url})


@app.get(rule(routes.SESSION), middlewares=scoped("ingest", "read"))
def get_session(session_id: str) -> Response:
    return json_response(session_view(ingest.service.status(session_id, principal(app))))


@app.post(rule(routes.SESSION_RETRY), middlewares=scoped("ingest"))
def retry_session(session_id: str) -> Response:
    return json_response(session_view(ingest.service.retry(session_id, principal(app))), 202)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
