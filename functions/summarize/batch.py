"""Summaries through the Message Batches API: queued sessions go out as one batch, ended batches are collected.

Each session is submitted at most once: a conditional claim reserves it, the batch id is recorded on it,
and a redelivered message for a session that already names a batch is done. The collector records every
result the way a direct call is recorded (priced at the batch rate) and marks failed requests FAILED.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from functions.common.session_store import BATCH_PENDING, SessionStore
from functions.summarize.providers import BatchOutcome, BatchStatus, BatchSummarizer, SummarizerError
from functions.summarize.service import SummarizeService
from schemas.contracts import Session, SummarizeRequest

MODES = ("realtime", "batch")
CLAIM_GRACE_SECONDS = 60  # a claim outlives the invocation that made it by this much
COLLECT_RESERVE_MS = 20_000  # stop collecting with this much of the invocation left; the next run continues
_CUSTOM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

logger = Logger(child=True)


def summarizer_mode(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    mode = (environ.get("SUMMARIZER_MODE") or "realtime").strip().lower()
    if mode not in MODES:
        raise ValueError(f"SUMMARIZER_MODE must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def custom_id_for(session_id: str) -> str:
    """The batch request's custom_id: the session id when the API accepts it as one, else a digest of it."""
    if _CUSTOM_ID.match(session_id):
        return session_id
    return "sid-" + hashlib.sha256(session_id.encode("utf-8")).hexdigest()[:60]


@dataclass
class _Queued:
    request: SummarizeRequest
    attempt: int
    message_ids: list[str]


@dataclass
class BatchSubmitter:
    store: SessionStore
    summarizer: Callable[[], BatchSummarizer]
    max_attempts: int

    def handle(self, event: dict[str, Any], claim_ttl_s: int) -> dict[str, Any]:
        """An SQS batch in, one Message Batch out; the response lists messages to deliver again."""
        failed: list[str] = []
        queued: dict[tuple[str, str], _Queued] = {}
        for record in event.get("Records", []):
            try:
                request = SummarizeRequest.model_validate_json(record["body"])
            except ValueError as error:
                logger.error("unreadable summarize request", message_id=record["messageId"], error=str(error))
                failed.append(record["messageId"])
                continue
            attempt = int(record.get("attributes", {}).get("ApproximateReceiveCount") or 1)
            entry = queued.setdefault((request.session_id, request.content_hash), _Queued(request, attempt, []))
            entry.attempt = max(entry.attempt, attempt)
            entry.message_ids.append(record["messageId"])
        failed += self.submit(list(queued.values()), claim_ttl_s)
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

    def submit(self, queued: list[_Queued], claim_ttl_s: int) -> list[str]:
        claim_id, now = uuid.uuid4().hex, int(time.time())
        failed: list[str] = []
        claimed: list[tuple[_Queued, Session]] = []
        for entry in queued:
            verdict = self._claim(entry.request, claim_id, now, now + claim_ttl_s)
            if verdict == "retry":
                failed += entry.message_ids
            elif verdict == "claimed":
                try:
                    item = self.store.get(entry.request.session_id) or {}
                    claimed.append((entry, self.store.read_raw(item["raw_key"])))
                except Exception as error:
                    self._give_back(entry, claim_id, error)
                    failed += entry.message_ids
        if not claimed:
            return failed
        requests = [(custom_id_for(entry.request.session_id), session) for entry, session in claimed]
        try:
            batch_id = self.summarizer().submit_batch(requests)
        except Exception as error:
            for entry, _ in claimed:
                self._give_back(entry, claim_id, error)
                failed += entry.message_ids
            return failed
        logger.info("batch submitted", batch_id=batch_id, sessions=len(claimed))
        for entry, _ in claimed:
            try:
                if not self.store.record_batch(entry.request.session_id, claim_id, batch_id):
                    logger.error(
                        "claim lost before the batch was recorded",
                        session_id=entry.request.session_id,
                        batch_id=batch_id,
                    )
            except Exception as error:
                logger.exception(
                    "recording the batch failed",
                    session_id=entry.request.session_id,
                    batch_id=batch_id,
                    error=str(error),
                )
                failed += entry.message_ids
        return failed

    def _claim(self, request: SummarizeRequest, claim_id: str, now: int, expires: int) -> str:
        """'claimed', 'done' (nothing to submit) or 'retry' (deliver the message again later)."""
        item = self.store.get(request.session_id)
        if item is None or item["content_hash"] != request.content_hash:
            return "done"  # withdrawn or replaced
        if item["status"] == "SUMMARIZED" or item.get("batch_id"):
            return "done"
        if item["status"] == "FAILED":
            logger.warning("session is FAILED; retry it through the API", session_id=request.session_id)
            return "retry"  # as in realtime mode: the message ends in the DLQ, the session stays visible
        if self.store.claim_for_batch(request.session_id, request.content_hash, claim_id, now, expires):
            return "claimed"
        item = self.store.get(request.session_id) or {}
        return "done" if item.get("batch_id") or item.get("status") == "SUMMARIZED" else "retry"

    def _give_back(self, entry: _Queued, claim_id: str, error: Exception) -> None:
        """Release the claim and record the failure as realtime mode does (FAILED on the last attempt)."""
        session_id = entry.request.session_id
        reason = str(error) if isinstance(error, SummarizerError) else f"{type(error).__name__}: {error}"
        retryable = error.retryable if isinstance(error, SummarizerError) else True
        final = not retryable or entry.attempt >= self.max_attempts
        logger.warning("batch submission failed", session_id=session_id, error=reason, final=final)
        self.store.release_batch_claim(session_id, claim_id)
        try:
            self.store.mark_failed(session_id, reason, entry.attempt, final)
        except Exception:
            logger.exception("could not record the failure", session_id=session_id)


@dataclass
class BatchCollector:
    store: SessionStore
    service: SummarizeService
    summarizer: Callable[[], BatchSummarizer]

    def collect(self, time_left_ms: Callable[[], int] = lambda: 1 << 30) -> dict[str, int]:
        """Record the results of every ended batch that still holds unsettled sessions."""
        counts: Counter[str] = Counter()
        for batch_id in self.store.pending_batch_ids():
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
        logger.info("batches collected", **counts)
        return dict(counts)

    def _collect(self, status: BatchStatus, counts: Counter[str], time_left_ms: Callable[[], int]) -> None:
        waiting = {
            custom_id_for(session_id): session_id for session_id in self.store.sessions_in_batch(status.batch_id)
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

    def _fail_batch(self, batch_id: str, reason: str, counts: Counter[str]) -> None:
        logger.error("batch lost", batch_id=batch_id, error=reason)
        counts["lost"] += 1
        for session_id in self.store.sessions_in_batch(batch_id):
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
        item = self.store.get(session_id)
        if not item or item.get("batch_id") != batch_id or item.get("batch_state") != BATCH_PENDING:
            return "stale"
        request = SummarizeRequest(session_id=session_id, content_hash=item["content_hash"])
        if item["status"] == "RECEIVED":
            if isinstance(outcome, SummarizerError):
                self.store.fail_batch_session(session_id, batch_id, str(outcome))
                logger.warning("batch request failed", session_id=session_id, batch_id=batch_id, error=str(outcome))
                return "failed"
            summary_key = self.store.put_summary_text(session_id, outcome.text)
            self.service.record(
                request,
                {
                    "summary_key": summary_key,
                    "model_id": outcome.model_id,
                    "provider": outcome.provider,
                    "usage": outcome.usage.model_dump(),
                    "latency_ms": outcome.latency_ms,
                    "stop_reason": outcome.stop_reason,
                },
                batch=True,
            )
            item = self.store.get(session_id) or {}
        if item.get("status") == "SUMMARIZED":
            self.service.request_translation(request)
        self.store.settle_batch(session_id, batch_id)  # last, so a crash before it makes the next run finish the job
        return "summarized" if item.get("status") == "SUMMARIZED" else "stale"
