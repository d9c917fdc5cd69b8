"""The idempotency table's records (written by Powertools): the summarizer's and distillation's, read and removed
here.

Both sides compute a record's key with Powertools' own persistence layer from the same configuration and key
prefix, so a deleted session's records are found without depending on how Powertools builds keys.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemNotFoundError
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS

SUMMARY_KEY_PREFIX = "summarize"  # records are `summarize#<hash of [session_id, content_hash]>`
SUMMARY_RECORD_DAYS = 30
DISTILL_KEY_PREFIX = "distill"  # records are `distill#<hash of [summary_id, system, schema_version, summary_key]>`
DISTILL_RECORD_DAYS = 365


def summary_idempotency_config() -> IdempotencyConfig:
    """The summarizer's configuration: one LLM call per session id and content hash, remembered 30 days."""
    return IdempotencyConfig(
        event_key_jmespath="[session_id, content_hash]", expires_after_seconds=SUMMARY_RECORD_DAYS * 24 * 3600
    )


def distill_idempotency_config() -> IdempotencyConfig:
    """Distillation's configuration: one cloud call per summary, system, schema and summary text, remembered a
    year."""
    return IdempotencyConfig(
        event_key_jmespath="[summary_id, system, schema_version, summary_key]",
        expires_after_seconds=DISTILL_RECORD_DAYS * 24 * 3600,
    )


class _Records:
    def __init__(self, table_name: str, config: IdempotencyConfig, key_prefix: str) -> None:
        self.layer = DynamoDBPersistenceLayer(table_name=table_name)
        self.layer.configure(config, key_prefix=key_prefix)

    def _in_flight(self, data: dict[str, Any]) -> bool:
        try:
            record = self.layer.get_record(data)
        except IdempotencyItemNotFoundError:
            return False
        if record is None or record.status != STATUS_CONSTANTS["INPROGRESS"]:
            return False
        expiry_ms = record.in_progress_expiry_timestamp
        return expiry_ms is None or expiry_ms > time.time() * 1000

    def _forget(self, data: dict[str, Any]) -> None:
        self.layer.delete_record(data, LookupError("deleted"))


class SummaryIdempotency(_Records):
    def __init__(self, table_name: str) -> None:
        super().__init__(table_name, summary_idempotency_config(), SUMMARY_KEY_PREFIX)

    def in_flight(self, session_id: str, content_hash: str) -> bool:
        """True while a summarize call for this content holds its record (and has not outlived its invocation)."""
        return self._in_flight({"session_id": session_id, "content_hash": content_hash})

    def forget(self, session_id: str, content_hash: str) -> None:
        """Remove the record, so the same content posted again is summarized again."""
        self._forget({"session_id": session_id, "content_hash": content_hash})


class DistillIdempotency(_Records):
    """Distillation records, by the key DistillService made them with ({summary_id, system, schema_version,
    summary_key}); the session item lists its keys (SessionStore.add_distill_key)."""

    def __init__(self, table_name: str) -> None:
        super().__init__(table_name, distill_idempotency_config(), DISTILL_KEY_PREFIX)

    def in_flight(self, key: dict[str, str]) -> bool:
        """True while a distillation call for this key holds its record (and has not outlived its invocation)."""
        return self._in_flight(key)

    def forget(self, key: dict[str, str]) -> None:
        """Remove the record and the cloud model's answer it holds."""
        self._forget(key)
