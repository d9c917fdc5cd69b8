"""ChangeFeedFunction: the changes table's stream -> EventBridge events, one per record change, in order."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.change_feed.wiring import build

logger = Logger()
publisher = build()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Reports the first record not published; the stream retries from it, so later ones never overtake it."""
    failures: list[dict[str, str]] = []
    publisher.publish(
        event.get("Records", []),
        lambda record: failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]}),
    )
    return {"batchItemFailures": failures}
