"""CollectBatchesFunction (scheduled): record the results of ended Message Batches (SummarizerMode=batch)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.collect_batches.wiring import build

logger = Logger()
collector = build()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    return collector.collect(context.get_remaining_time_in_millis)
