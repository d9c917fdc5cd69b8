"""IngestFunction: subsystems post sessions, read their status and retry failed ones."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.ingest.router import resolver
from functions.ingest.wiring import build

logger = Logger()
ingest = build()
app = resolver(ingest.service, ingest.max_session_bytes)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
