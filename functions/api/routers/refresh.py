"""Refresh routes: ask for re-translation (or re-embedding), and follow a request's progress."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from functions.api.refresh import RefreshService
from functions.http.request_body import MAX_BODY_BYTES, contract_body
from functions.http.responses import json_response
from functions.http.routing import rule, scoped
from functions.stores.dynamo import plain
from schemas import routes
from schemas.contracts import RefreshSelector


def build(refresh: RefreshService) -> Router:
    router = Router()

    @router.post(rule(routes.REFRESH), middlewares=scoped("refresh"))
    def post_refresh() -> Response:
        selector = contract_body(router.current_event.raw_event, RefreshSelector, MAX_BODY_BYTES)
        created, item = refresh.request(selector)
        return json_response({**plain(item), "coalesced": not created}, 202 if created else 200)

    @router.get(rule(routes.REFRESH_REQUEST), middlewares=scoped("refresh", "read"))
    def get_refresh(request_id: str) -> Response:
        return json_response(plain(refresh.get(request_id)))

    return router
