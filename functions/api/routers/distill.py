"""The edge's distillation route: the cloud model's JSON for one summary and system (or its cost estimate)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from functions.api.distill import DistillService
from functions.http.request_body import MAX_BODY_BYTES, contract_body
from functions.http.responses import contract_response
from functions.http.routing import rule, scoped
from schemas import routes
from schemas.edge_api import DistillRequest


def build(distill: DistillService) -> Router:
    router = Router()

    @router.post(rule(routes.EDGE_DISTILL), middlewares=scoped("edge"))
    def post_distill() -> Response:
        request = contract_body(router.current_event.raw_event, DistillRequest, MAX_BODY_BYTES)
        return contract_response(distill.answer(request))

    return router
