"""ApiFunction: reads, search, refresh requests, edge sync and the dashboard page, one router per area."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.api.routers import resolver
from functions.api.wiring import build

logger = Logger()
app = resolver(build())


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
