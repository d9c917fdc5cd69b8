"""IndexFunction: DynamoDB stream batches (Sessions, Embeddings) -> the search index file."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.index.wiring import build

logger = Logger()
indexer = build()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The update is one idempotent upsert: a failure raises and the whole batch is delivered again."""
    indexer.apply(event.get("Records", []))
    return {"batchItemFailures": []}
