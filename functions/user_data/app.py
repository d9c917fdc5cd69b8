"""UserDataFunction: a user's right to their data. Deletion requests (the purge runs in PurgeFunction) and exports."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.user_data.router import resolver
from functions.user_data.wiring import build

logger = Logger()
user_data = build()
app = resolver(user_data.deletions, user_data.exporter)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
