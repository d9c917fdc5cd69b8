"""SummarizerMode=batch: the queued sessions of an SQS batch go out as one Message Batch.

Each session is submitted at most once: a conditional claim reserves it, the batch id is recorded on it,
and a redelivered message for a session that already names a batch is done. CollectBatchesFunction
(functions.collect_batches) records the results.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from functions.clock import epoch_seconds
from functions.stores.sessions import FAILED, SUMMARIZED, SessionStore
from functions.summarize.service import failure_reason, is_final
from functions.summarize.summarizer import Summarizer
from schemas.contracts import Session, SummarizeRequest

CLAIM_GRACE_SECONDS = 60  # a claim outlives the invocation that made it by this much
_CUSTOM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

logger = Logger(child=True)


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
    sessions: SessionStore
    summarizer: Callable[[], Summarizer]
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
        claim_id, now = uuid.uuid4().hex, epoch_seconds()
        failed: list[str] = []
        claimed: list[tuple[_Queued, Session]] = []
        for entry in queued:
            verdict = self._claim(entry.request, claim_id, now, now + claim_ttl_s)
            if verdict == "retry":
                failed += entry.message_ids
            elif verdict == "claimed":
                try:
                    item = self.sessions.get(entry.request.session_id) or {}
                    claimed.append((entry, self.sessions.read_raw(item["raw_key"])))
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
                if not self.sessions.record_batch(entry.request.session_id, claim_id, batch_id):
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
        item = self.sessions.get(request.session_id)
        if item is None or item["content_hash"] != request.content_hash:
            return "done"  # withdrawn or replaced
        if item["status"] == SUMMARIZED or item.get("batch_id"):
            return "done"
        if item["status"] == FAILED:
            logger.warning("session is FAILED; retry it through the API", session_id=request.session_id)
            return "retry"  # as in realtime mode: the message ends in the DLQ, the session stays visible
        if self.sessions.claim_for_batch(request.session_id, request.content_hash, claim_id, now, expires):
            return "claimed"
        item = self.sessions.get(request.session_id) or {}
        return "done" if item.get("batch_id") or item.get("status") == SUMMARIZED else "retry"

    def _give_back(self, entry: _Queued, claim_id: str, error: Exception) -> None:
        """Release the claim and record the failure as realtime mode does (FAILED on the last attempt)."""
        session_id = entry.request.session_id
        reason, final = failure_reason(error), is_final(error, entry.attempt, self.max_attempts)
        logger.warning("batch submission failed", session_id=session_id, error=reason, final=final)
        self.sessions.release_batch_claim(session_id, claim_id)
        try:
            self.sessions.mark_failed(session_id, reason, entry.attempt, final)
        except Exception:
            logger.exception("could not record the failure", session_id=session_id)
