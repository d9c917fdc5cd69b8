"""The dashboard page and its files: public (every data call the page makes needs a token)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from functions.api import assets
from functions.http.routing import rule
from schemas import routes


def build() -> Router:
    router = Router()

    @router.get(rule(routes.DASHBOARD))
    def dashboard() -> Response:
        return assets.serve("index.html")

    @router.get(rule(routes.DASHBOARD_ASSET))
    def dashboard_asset(asset: str) -> Response:
        return assets.serve(asset)

    return router
