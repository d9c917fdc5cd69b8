"""NotifyFunction: WebSocket $connect/$disconnect, and table stream batches pushed to the open dashboards."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.notify.changes import change_message
from functions.notify.wiring import build

logger = Logger()
notifier = build()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    message = change_message(record)
    if message:
        notifier.broadcast(message)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = event.get("requestContext") or {}
    if request.get("routeKey") == "$connect":
        notifier.connect(request["connectionId"], (request.get("authorizer") or {}).get("name", ""))
        return {"statusCode": 200}
    if request.get("routeKey") == "$disconnect":
        notifier.disconnect(request["connectionId"])
        return {"statusCode": 200}
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
