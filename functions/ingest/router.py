"""IngestFunction's routes: POST /sessions, GET /sessions/{session_id}, POST /sessions/{session_id}/retry."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from functions.http.request_body import contract_body
from functions.http.responses import json_response, register_error_handlers
from functions.http.routing import principal, rule, scoped
from functions.http.views import session_view
from functions.ingest.service import IngestService
from schemas import routes
from schemas.contracts import Session, SessionAccepted

logger = Logger(child=True)


def build(service: IngestService, max_session_bytes: int) -> Router:
    router = Router()

    @router.post(rule(routes.SESSIONS), middlewares=scoped("ingest"))
    def post_session() -> Response:
        session = contract_body(router.current_event.raw_event, Session, max_session_bytes)
        accepted = service.accept(session, principal(router))
        status_url = routes.SESSION.format(session_id=session.session_id)
        body = SessionAccepted(session_id=session.session_id, status=accepted.item["status"], status_url=status_url)
        logger.info(
            "session accepted" if accepted.created else "session already accepted",
            session_id=session.session_id,
            source=session.source,
        )
        return json_response(body.model_dump(mode="json"), 202 if accepted.created else 200, {"Location": status_url})

    @router.get(rule(routes.SESSION), middlewares=scoped("ingest", "read"))
    def get_session(session_id: str) -> Response:
        return json_response(session_view(service.status(session_id, principal(router))))

    @router.post(rule(routes.SESSION_RETRY), middlewares=scoped("ingest"))
    def retry_session(session_id: str) -> Response:
        return json_response(session_view(service.retry(session_id, principal(router))), 202)

    return router


def resolver(service: IngestService, max_session_bytes: int) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()
    register_error_handlers(app)
    app.include_router(build(service, max_session_bytes))
    return app
