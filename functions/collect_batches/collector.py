"""Record the results of ended Message Batches (SummarizerMode=batch) the way a direct call is recorded.

Each result is priced at the batch rate; a failed request marks its session FAILED (retryable through the
API). A batch the API no longer knows fails its sessions visibly.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools import Logger

from functions.stores.sessions import BATCH_PENDING, DELETING, RECEIVED, SUMMARIZED, SessionStore
from functions.summarize.batch import custom_id_for
from functions.summarize.service import SummarizeService, made
from functions.summarize.summarizer import (
    CUT_OFF_STOP_REASON,
    BatchOutcome,
    BatchStatus,
    Summarizer,
    SummarizerError,
    SummaryResult,
)
from schemas.contracts import SummarizeRequest, TokenUsage

COLLECT_RESERVE_MS = 20_000  # stop collecting with this much of the invocation left; the next run continues

logger = Logger(child=True)


@dataclass
class BatchCollector:
    sessions: SessionStore
    service: SummarizeService
    summarizer: Callable[[], Summarizer]
    _deadline: float | None = None  # of the invocation collecting, for a direct call it makes

    def collect(self, time_left_ms: Callable[[], int] = lambda: 1 << 30) -> dict[str, int]:
        """Record the results of every ended batch that still holds unsettled sessions."""
        counts: Counter[str] = Counter()
        for batch_id in self.sessions.pending_batch_ids():
            if time_left_ms() < COLLECT_RESERVE_MS:
                counts["deferred"] += 1
                continue
            try:
                status = self.summarizer().batch_status(batch_id)
                if not status.ended:
                    counts["in_progress"] += 1
                    continue
                self._collect(status, counts, time_left_ms)
                counts["ended"] += 1
            except SummarizerError as error:
                if error.status == 404:  # unknown to the API (another account, or archived): fail it visibly
                    self._fail_batch(batch_id, f"batch {batch_id} cannot be read: {error}", counts)
                    continue
                logger.error("batch not collected", batch_id=batch_id, error=str(error))  # next run tries again
                counts["unreadable"] += 1
        logger.info("batches collected", extra=dict(counts))
        return dict(counts)

    def _collect(self, status: BatchStatus, counts: Counter[str], time_left_ms: Callable[[], int]) -> None:
        self._deadline = time.monotonic() + (time_left_ms() - COLLECT_RESERVE_MS) / 1000
        waiting = {
            custom_id_for(session_id): session_id for session_id in self.sessions.sessions_in_batch(status.batch_id)
        }
        for custom_id, outcome in self.summarizer().batch_results(status.batch_id, status.latency_ms or 0):
            session_id = waiting.pop(custom_id, None)
            if session_id is not None:
                counts[self._settle_safely(session_id, status.batch_id, outcome)] += 1
            if time_left_ms() < COLLECT_RESERVE_MS:
                counts["deferred"] += 1
                return
        for session_id in waiting.values():
            missing = SummarizerError(f"batch {status.batch_id} ended without a result for this session", True)
            counts[self._settle_safely(session_id, status.batch_id, missing)] += 1

    def _again_with_a_larger_budget(self, item: dict) -> SummaryResult | SummarizerError:
        """A summary cut off in the batch, asked once more directly (at the full price) with the retry budget."""
        summarizer = self.summarizer()
        logger.info("batch summary cut off: asking again with a larger budget", session_id=item["session_id"])
        try:
            session = self.sessions.read_raw(item["raw_key"])
            return summarizer.summarize(session, budgets=summarizer.retry_budgets, deadline=self._deadline)
        except SummarizerError as error:
            return error

    def _fail_batch(self, batch_id: str, reason: str, counts: Counter[str]) -> None:
        logger.error("batch lost", batch_id=batch_id, error=reason)
        counts["lost"] += 1
        for session_id in self.sessions.sessions_in_batch(batch_id):
            counts[self._settle_safely(session_id, batch_id, SummarizerError(reason, retryable=True))] += 1

    def _settle_safely(self, session_id: str, batch_id: str, outcome: BatchOutcome) -> str:
        try:
            return self._settle(session_id, batch_id, outcome)
        except Exception as error:  # left pending: the next run reads the results again
            logger.exception(
                "recording a batch result failed", session_id=session_id, batch_id=batch_id, error=str(error)
            )
            return "errors"

    def _settle(self, session_id: str, batch_id: str, outcome: BatchOutcome) -> str:
        item = self.sessions.get(session_id)
        if not item or item.get("batch_id") != batch_id or item.get("batch_state") != BATCH_PENDING:
            return "stale"
        request = SummarizeRequest(session_id=session_id, content_hash=item["content_hash"])
        if item["status"] == RECEIVED:
            paid_before: list[tuple[TokenUsage, bool]] = []
            cut_off = isinstance(outcome, SummarizerError) and outcome.stop_reason == CUT_OFF_STOP_REASON
            if cut_off and outcome.usage and self.summarizer().retry_budgets:
                paid_before = [(outcome.usage, True)]
                outcome = self._again_with_a_larger_budget(item)
            if isinstance(outcome, SummarizerError):
                self.sessions.fail_batch_session(session_id, batch_id, str(outcome), outcome.stop_reason)
                self.service.count_paid_failure(outcome, batch=not paid_before, paid_before=paid_before)
                logger.warning("batch request failed", session_id=session_id, batch_id=batch_id, error=str(outcome))
                return "failed"
            summary_key = self.sessions.put_summary_text(session_id, outcome.text)
            if not self.service.record(request, made(summary_key, outcome, paid_before), batch=not paid_before):
                current = self.sessions.get(session_id)
                if not current or current.get("status") == DELETING:  # deleted while its result was recorded
                    self.sessions.discard_summary_text(summary_key)
                    return "stale"
            item = self.sessions.get(session_id) or {}
        if item.get("status") == SUMMARIZED:
            self.service.request_translation(request)
        self.sessions.settle_batch(session_id, batch_id)  # last, so a crash before it makes the next run finish the job
        return "summarized" if item.get("status") == SUMMARIZED else "stale"
