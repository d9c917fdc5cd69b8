"""Dashboard live updates: track WebSocket connections and push table changes to them."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from functions.common.settings import Settings
from functions.notify.changes import change_message
from functions.notify.connections import Connections

logger = Logger()
connections = Connections(Settings.from_env().connections_table)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    message = change_message(record)
    if message:
        connections.broadcast(message)


@logger.inject_lambda_context
def lambda_handler(event: dict, context) -> dict:
    route = (event.get("requestContext") or {}).get("routeKey")
    if route == "$connect":
        connections.add(
            event["requestContext"]["connectionId"], (event["requestContext"].get("authorizer") or {}).get("name", "")
        )
        return {"statusCode": 200}
    if route == "$disconnect":
        connections.remove(event["requestContext"]["connectionId"])
        return {"statusCode": 200}
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
