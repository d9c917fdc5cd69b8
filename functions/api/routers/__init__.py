"""ApiFunction's routers, one per area, assembled into one resolver."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from functions.api.routers import dashboard, distill, edge, edits, reads, refresh, search
from functions.api.wiring import Api
from functions.http.responses import register_error_handlers


def resolver(api: Api) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()
    register_error_handlers(app)
    app.include_router(dashboard.build())
    app.include_router(reads.build(api.reads))
    app.include_router(edits.build(api.edits))
    app.include_router(search.build(api.search))
    app.include_router(refresh.build(api.refresh))
    app.include_router(edge.build(api.edge, api.embeddings, api.edge_status))
    app.include_router(distill.build(api.distill))
    return app
