"""SummarizeFunction: SQS batches of sessions, each summarized once (idempotent on session id + content hash).

With SUMMARIZER_MODE=batch the queued sessions go out as one Message Batch instead (see batch.py).
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.stores.idempotency import SUMMARY_KEY_PREFIX, summary_idempotency_config
from functions.summarize.batch import CLAIM_GRACE_SECONDS
from functions.summarize.service import Made
from functions.summarize.wiring import build
from schemas.contracts import SummarizeRequest

logger = Logger()
summarize = build()
processor = BatchProcessor(event_type=EventType.SQS)
idempotency = summary_idempotency_config()


@idempotent_function(
    data_keyword_argument="request",
    config=idempotency,
    persistence_store=DynamoDBPersistenceLayer(table_name=summarize.idempotency_table),
    key_prefix=SUMMARY_KEY_PREFIX,  # the deletion finds (and removes) the record by the same prefix
)
def summarize_once(request: SummarizeRequest, deadline: float | None = None) -> Made:
    """The one cloud LLM call for this content; a redelivery gets the stored result back."""
    return summarize.service.summarize(request, deadline)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> str:
    request = SummarizeRequest.model_validate_json(record.body)
    attempt = int(record.attributes.approximate_receive_count or 1)
    # The LLM call (all its retries) ends before this invocation's own timeout would end it.
    deadline = time.monotonic() + lambda_context.get_remaining_time_in_millis() / 1000
    return summarize.service.handle(request, attempt, lambda r: summarize_once(request=r, deadline=deadline))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if summarize.mode == "batch":
        claim_ttl_s = context.get_remaining_time_in_millis() // 1000 + CLAIM_GRACE_SECONDS
        return summarize.submitter.handle(event, claim_ttl_s)
    idempotency.register_lambda_context(context)
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
