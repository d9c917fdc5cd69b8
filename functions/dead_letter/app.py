"""SummarizeDeadLetterFunction: batches from SummarizeDLQ; each message's session ends visible, never stuck."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from functions.dead_letter.wiring import build
from schemas.contracts import SummarizeRequest

logger = Logger()
dead_letters = build()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> str:
    try:
        request = SummarizeRequest.model_validate_json(record.body)
    except ValidationError as error:  # names no session; kept in the log, not delivered again forever
        logger.error("unreadable dead letter dropped", message_id=record.message_id, error=str(error))
        return "unreadable"
    return dead_letters.settle(request)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
