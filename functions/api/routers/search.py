"""Search routes: free-text search and summaries similar to one."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from functions.http.params import query
from functions.http.responses import json_response
from functions.http.routing import rule, scoped
from functions.search.service import SearchService, parse_filters, parse_k, parse_user
from schemas import routes


def build(search: SearchService) -> Router:
    router = Router()

    @router.get(rule(routes.SEARCH), middlewares=scoped("read"))
    def search_summaries() -> Response:
        params = query(router.current_event)
        filters, user = parse_filters(params), parse_user(params)
        return json_response(search.search(params.get("q"), parse_k(params.get("k")), filters, user))

    @router.get(rule(routes.SIMILAR), middlewares=scoped("read"))
    def similar_summaries(summary_id: str) -> Response:
        params = query(router.current_event)
        filters, user = parse_filters(params), parse_user(params)
        return json_response(search.similar(summary_id, parse_k(params.get("k")), filters, user))

    return router
