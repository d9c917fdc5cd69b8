"""Messages to the summarize queue and the edge queue."""

from __future__ import annotations

import hashlib

import boto3

from schemas.contracts import SummarizeRequest, TranslateRequest


class Queues:
    def __init__(self, summarize_url: str, edge_url: str) -> None:
        self.sqs = boto3.client("sqs")
        self.summarize_url, self.edge_url = summarize_url, edge_url

    def request_summary(self, request: SummarizeRequest) -> None:
        self.sqs.send_message(QueueUrl=self.summarize_url, MessageBody=request.model_dump_json())

    def request_translation(self, request: TranslateRequest, dedup_key: str) -> None:
        """Ordered per summary; the same dedup_key within SQS's five-minute window is delivered once."""
        self.sqs.send_message(
            QueueUrl=self.edge_url,
            MessageBody=request.model_dump_json(),
            MessageGroupId=request.summary_id,
            MessageDeduplicationId=hashlib.sha256(dedup_key.encode()).hexdigest(),
        )
