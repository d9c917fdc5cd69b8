"""A user's edits of system records (RFC 6902 patches), and the model outputs waiting beside them."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from functions.api.record_edits import RecordEdits, record_etag
from functions.http.request_body import JSON_PATCH, MAX_BODY_BYTES, json_body
from functions.http.responses import json_response
from functions.http.routing import principal, rule, scoped
from schemas import routes


def build(edits: RecordEdits) -> Router:
    router = Router()

    def if_match() -> str | None:
        return router.current_event.headers.get("if-match")

    def answer(view: dict) -> Response:
        return json_response(view, headers={"ETag": record_etag(view["version"])})

    @router.get(rule(routes.RECORD), middlewares=scoped("read", "edit"))
    def get_record(summary_id: str, system: str) -> Response:
        return answer(edits.view(summary_id, system))

    @router.patch(rule(routes.RECORD), middlewares=scoped("edit"))
    def edit_record(summary_id: str, system: str) -> Response:
        operations = json_body(router.current_event.raw_event, MAX_BODY_BYTES, media_type=JSON_PATCH)
        return answer(edits.edit(summary_id, system, operations, if_match(), principal(router)))

    @router.post(rule(routes.RECORD_PROPOSAL_ACCEPT), middlewares=scoped("edit"))
    def accept_proposal(summary_id: str, system: str) -> Response:
        return answer(edits.accept_proposal(summary_id, system, if_match()))

    @router.delete(rule(routes.RECORD_PROPOSAL), middlewares=scoped("edit"))
    def dismiss_proposal(summary_id: str, system: str) -> Response:
        return answer(edits.dismiss_proposal(summary_id, system, if_match()))

    return router
