"""ApiFunction: reads, search, refresh requests, edge sync and the dashboard page, one router per area."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.api.routers import dashboard, edge, reads, refresh, search
from functions.api.wiring import build
from functions.http.responses import register_error_handlers

logger = Logger()
api = build()
app = APIGatewayHttpResolver()
register_error_handlers(app)
app.include_router(dashboard.build())
app.include_router(reads.build(api.reads))
app.include_router(search.build(api.search))
app.include_router(refresh.build(api.refresh))
app.include_router(edge.build(api.edge, api.embeddings))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
