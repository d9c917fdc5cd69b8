"""A summarize message that reached the dead-letter queue: its session, if no delivery recorded an outcome, ends
FAILED with the reason, so nothing stays RECEIVED after the last delivery (a timeout, out of memory, a crash)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aws_lambda_powertools import Logger

from functions.stores.sessions import RECEIVED, SessionStore
from schemas.contracts import SummarizeRequest

logger = Logger(child=True)

Settled = Literal["failed", "already_settled", "in_a_batch", "stale"]


def dead_letter_reason(max_attempts: int, last_error: str | None) -> str:
    reason = (
        f"none of the {max_attempts} deliveries to SummarizeFunction recorded an outcome (the function was ended by "
        "its timeout, ran out of memory or crashed) and the message was moved to the dead-letter queue"
    )
    return f"{reason}; the last error recorded: {last_error}" if last_error else reason


@dataclass
class DeadLetters:
    sessions: SessionStore
    max_attempts: int

    def settle(self, request: SummarizeRequest) -> Settled:
        """FAILED (retryable) for a session still RECEIVED; a summarized, failed, withdrawn or batched one is left."""
        item = self.sessions.get(request.session_id)
        if item is None or item["content_hash"] != request.content_hash:
            return "stale"
        if item["status"] != RECEIVED:
            return "already_settled"
        if item.get("batch_id"):
            return "in_a_batch"  # CollectBatchesFunction records its outcome
        attempts = max(int(item.get("attempts", 0)), self.max_attempts)
        reason = dead_letter_reason(self.max_attempts, item.get("error"))
        if not self.sessions.fail_dead_lettered(request.session_id, request.content_hash, reason, attempts):
            return "already_settled"  # a delivery recorded its outcome meanwhile
        logger.warning("dead-lettered session marked FAILED", session_id=request.session_id, attempts=attempts)
        return "failed"
