"""The idempotency table's summary records (written by Powertools in SummarizeFunction): read and removed here.

Both sides compute a record's key with Powertools' own persistence layer from the same configuration and key
prefix, so a deleted session's record is found without depending on how Powertools builds keys.
"""

from __future__ import annotations

import time

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemNotFoundError
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS

SUMMARY_KEY_PREFIX = "summarize"  # records are `summarize#<hash of [session_id, content_hash]>`
SUMMARY_RECORD_DAYS = 30


def summary_idempotency_config() -> IdempotencyConfig:
    """The summarizer's configuration: one LLM call per session id and content hash, remembered 30 days."""
    return IdempotencyConfig(
        event_key_jmespath="[session_id, content_hash]", expires_after_seconds=SUMMARY_RECORD_DAYS * 24 * 3600
    )


class SummaryIdempotency:
    def __init__(self, table_name: str) -> None:
        self.layer = DynamoDBPersistenceLayer(table_name=table_name)
        self.layer.configure(summary_idempotency_config(), key_prefix=SUMMARY_KEY_PREFIX)

    def in_flight(self, session_id: str, content_hash: str) -> bool:
        """True while a summarize call for this content holds its record (and has not outlived its invocation)."""
        try:
            record = self.layer.get_record({"session_id": session_id, "content_hash": content_hash})
        except IdempotencyItemNotFoundError:
            return False
        if record is None or record.status != STATUS_CONSTANTS["INPROGRESS"]:
            return False
        expiry_ms = record.in_progress_expiry_timestamp
        return expiry_ms is None or expiry_ms > time.time() * 1000

    def forget(self, session_id: str, content_hash: str) -> None:
        """Remove the record, so the same content posted again is summarized again."""
        self.layer.delete_record({"session_id": session_id, "content_hash": content_hash}, LookupError("deleted"))
