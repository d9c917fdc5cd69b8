"""The queues the functions send to, one class each (messages are contracts from schemas.contracts)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import boto3
from pydantic import BaseModel

from schemas.contracts import QueryEmbeddingRequest, SummarizeRequest, TranslateRequest
from schemas.user_data import DeletionRequest

MAX_BATCH = 10  # SendMessageBatch entries
MAX_DELAY_SECONDS = 900


def message_body(message: BaseModel, **dump: Any) -> str:
    """`message` as the JSON text of an SQS message body, every non-ASCII character escaped: SQS refuses some
    characters JSON allows (U+FFFE, U+FFFF, control characters; its SendMessage reference lists the allowed ones).
    `dump`: model_dump's options."""
    return json.dumps(message.model_dump(mode="json", **dump), ensure_ascii=True, separators=(",", ":"))


class _Queue:
    def __init__(self, url: str, sqs: Any = None) -> None:
        self.url, self.sqs = url, sqs or boto3.client("sqs")


class SummarizeQueue(_Queue):
    """Sessions waiting for their one summary (standard queue, redrives to a DLQ)."""

    def send(self, request: SummarizeRequest) -> None:
        self.sqs.send_message(QueueUrl=self.url, MessageBody=message_body(request))


class EdgeQueue(_Queue):
    """Work for the edge worker (FIFO: ordered per summary, deduplicated)."""

    def send(self, request: TranslateRequest, dedup_key: str) -> None:
        """The same dedup_key within SQS's five-minute window is delivered once."""
        self.sqs.send_message(
            QueueUrl=self.url,
            MessageBody=message_body(request),
            MessageGroupId=request.summary_id,
            MessageDeduplicationId=hashlib.sha256(dedup_key.encode()).hexdigest(),
        )


class BackfillQueue(EdgeQueue):
    """Backfills for the edge worker (FIFO like the edge queue), read only when the edge queue is empty."""


class QueryQueue(_Queue):
    """Free-text searches waiting for the edge to embed them (short-lived)."""

    def send(self, request: QueryEmbeddingRequest) -> None:
        self.sqs.send_message(QueueUrl=self.url, MessageBody=message_body(request))


class DeletionQueue(_Queue):
    """Deletion work: purge a session, or list a user's next page (standard queue, redrives to a DLQ)."""

    def send(self, request: DeletionRequest, delay_seconds: int = 0) -> None:
        self.sqs.send_message(
            QueueUrl=self.url,
            MessageBody=message_body(request, exclude_defaults=True),
            DelaySeconds=min(max(delay_seconds, 0), MAX_DELAY_SECONDS),
        )

    def send_many(self, requests: list[DeletionRequest]) -> None:
        """Send in batches of ten; raises if SQS refused any (the caller's work is repeated, purges are safe to)."""
        for start in range(0, len(requests), MAX_BATCH):
            chunk = requests[start : start + MAX_BATCH]
            entries = [
                {"Id": str(n), "MessageBody": message_body(request, exclude_defaults=True)}
                for n, request in enumerate(chunk)
            ]
            failed = self.sqs.send_message_batch(QueueUrl=self.url, Entries=entries).get("Failed", [])
            if failed:
                raise RuntimeError(f"{len(failed)} deletion messages not sent: {failed[0].get('Message')}")
