"""SQS batch handler: summarize each queued session once (idempotent on session id + content hash).

With SUMMARIZER_MODE=batch the queued sessions go out as one Message Batch instead (see batch.py).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from functions.common.settings import Settings
from functions.summarize.batch import CLAIM_GRACE_SECONDS, BatchSubmitter, summarizer_mode
from functions.summarize.wiring import summarize_service, summarizer
from schemas.contracts import SummarizeRequest

settings = Settings.from_env()
logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)
service = summarize_service(settings, settings.summarize_max_attempts)
store = service.store
mode = summarizer_mode()
submitter = BatchSubmitter(store, summarizer, max_attempts=service.max_attempts)
idempotency = IdempotencyConfig(event_key_jmespath="[session_id, content_hash]", expires_after_seconds=30 * 24 * 3600)


@idempotent_function(
    data_keyword_argument="request",
    config=idempotency,
    persistence_store=DynamoDBPersistenceLayer(table_name=settings.idempotency_table),
)
def summarize_once(request: SummarizeRequest) -> dict:
    """The one cloud LLM call for this content; a redelivery gets the stored result back."""
    item = store.get(request.session_id)
    session = store.read_raw(item["raw_key"])
    result = summarizer().summarize(session)
    summary_key = store.put_summary_text(request.session_id, result.text)
    logger.info(
        "summarized",
        session_id=request.session_id,
        model_id=result.model_id,
        input_tokens=result.usage.input_tokens,
        output_tokens=result.usage.output_tokens,
    )
    return {
        "summary_key": summary_key,
        "model_id": result.model_id,
        "provider": result.provider,
        "usage": result.usage.model_dump(),
        "latency_ms": result.latency_ms,
        "stop_reason": result.stop_reason,
    }


def record_handler(record: SQSRecord) -> str:
    request = SummarizeRequest.model_validate_json(record.body)
    attempt = int(record.attributes.approximate_receive_count or 1)
    return service.handle(request, attempt, lambda r: summarize_once(request=r))


@logger.inject_lambda_context
def lambda_handler(event: dict, context) -> dict:
    if mode == "batch":
        claim_ttl_s = context.get_remaining_time_in_millis() // 1000 + CLAIM_GRACE_SECONDS
        return submitter.handle(event, claim_ttl_s)
    idempotency.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
