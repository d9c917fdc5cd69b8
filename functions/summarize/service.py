"""One summary per session content: the LLM call is made once, everything after it is repeatable."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from functions.clock import utc_now
from functions.queues import EdgeQueue
from functions.stores.registry import RegistryStore
from functions.stores.sessions import DELETING, FAILED, SUMMARIZED, SessionStore, SummaryMade
from functions.stores.usage import UsageStore
from functions.summarize.pricing import UnknownModelError, cost_usd
from functions.summarize.prompt import PROMPT_VERSION_CONTENT
from functions.summarize.summarizer import Summarizer, SummarizerError, SummaryResult, total_usage
from schemas.contracts import SummarizeRequest, TokenUsage, TranslateRequest
from schemas.lineage import RegistryEntry

logger = Logger(child=True)
_UNPRICED_WARNED: set[str] = set()  # models already warned about in this Lambda environment

# What a summary call left behind (stored by the idempotency layer, so a redelivery gets it back).
Made = dict[str, Any]
SummarizeOnce = Callable[[SummarizeRequest], Made]
Paid = tuple[TokenUsage, bool]  # tokens of one call, and whether they were billed at the Message Batches rate


def made(summary_key: str, result: SummaryResult, paid_before: Sequence[Paid] = ()) -> Made:
    """The summary's record; `paid_before`: earlier calls for it that are paid for too (a cut-off batch answer)."""
    return {
        "summary_key": summary_key,
        "model_id": result.model_id,
        "provider": result.provider,
        "usage": result.usage.model_dump(),
        "paid_before": [{"usage": usage.model_dump(), "batch": billed} for usage, billed in paid_before],
        "latency_ms": result.latency_ms,
        "stop_reason": result.stop_reason,
    }


def failure_reason(error: Exception) -> str:
    """What the session's `error` field says: the summarizer's own message, or the failing step's."""
    if isinstance(error, SummarizerError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def is_final(error: Exception, attempt: int, max_attempts: int) -> bool:
    """No more attempts: the error says retrying cannot help, or this was the last delivery."""
    retryable = error.retryable if isinstance(error, SummarizerError) else True
    return not retryable or attempt >= max_attempts


class SessionFailed(Exception):
    """The summary could not be made on this attempt; the message goes back to the queue."""


class SessionGone(Exception):
    """The session was deleted (or is being deleted) while its summary was being made: nothing is recorded."""


def is_gone(item: dict[str, Any] | None, content_hash: str) -> bool:
    return item is None or item["content_hash"] != content_hash or item["status"] == DELETING


@dataclass
class SummarizeService:
    sessions: SessionStore
    registry: RegistryStore
    usage: UsageStore
    edge_queue: EdgeQueue
    summarizer: Callable[[], Summarizer]  # built on first use (imports anthropic, may read the API key)
    max_attempts: int

    def summarize(self, request: SummarizeRequest, deadline: float | None = None) -> Made:
        """The one cloud LLM call for this content, and its text stored; wrap it in idempotency.

        `deadline` (time.monotonic() seconds): the invocation's end; the call and its retries stop before it.
        The session is read after the idempotency record is written, so a deletion either sees that record (and
        waits for the call to end) or is seen here (SessionGone, and the call is not made).
        """
        item = self.sessions.get(request.session_id)
        if item is None or is_gone(item, request.content_hash):
            raise SessionGone(f"session {request.session_id} was deleted")
        logger.info("summarizing", session_id=request.session_id)
        result = self.summarizer().summarize(self.sessions.read_raw(item["raw_key"]), deadline=deadline)
        try:
            summary_key = self.sessions.put_summary_text(request.session_id, result.text)
        except Exception:  # the call was paid for all the same; the next attempt pays again
            self._count(result.model_id, result.usage, self._cost(result.model_id, [(result.usage, False)]))
            raise
        logger.info(
            "summarized",
            session_id=request.session_id,
            model_id=result.model_id,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
        )
        return made(summary_key, result)

    def handle(self, request: SummarizeRequest, attempt: int, summarize_once: SummarizeOnce) -> str:
        """Summarize (once), record and queue the translation; raises SessionFailed to have it delivered again."""
        item = self.sessions.get(request.session_id)
        if is_gone(item, request.content_hash):
            return "stale"  # withdrawn, replaced or deleted: nothing to summarize
        assert item is not None
        if item["status"] == FAILED:
            logger.info("message for a FAILED session sent on to the DLQ", session_id=request.session_id)
            raise SessionFailed(f"session {request.session_id} is FAILED: {item.get('error')}")
        if item["status"] != SUMMARIZED:
            self.sessions.begin_attempt(request.session_id, request.content_hash, attempt)
            try:
                recorded = self.record(request, summarize_once(request))
            except SessionGone:
                return "stale"
            except Exception as error:
                if is_gone(self.sessions.get(request.session_id), request.content_hash):
                    return "stale"
                final, reason = is_final(error, attempt, self.max_attempts), failure_reason(error)
                stop_reason = error.stop_reason if isinstance(error, SummarizerError) else None
                logger.warning(
                    "summary failed",
                    session_id=request.session_id,
                    attempt=attempt,
                    max_attempts=self.max_attempts,
                    final=final,
                    error=reason,
                )
                self.sessions.mark_failed(request.session_id, reason, attempt, final, stop_reason)
                if isinstance(error, SummarizerError):
                    self.count_paid_failure(error)
                raise SessionFailed(reason) from error
            if not recorded and is_gone(self.sessions.get(request.session_id), request.content_hash):
                return "stale"  # deleted during the call: its deletion removes what the call stored
        self.request_translation(request)
        return "summarized"

    def request_translation(self, request: SummarizeRequest) -> None:
        """Ask the edge for every system's JSON; repeats within SQS's dedup window are delivered once."""
        self.edge_queue.send(
            TranslateRequest(
                summary_id=request.session_id, system=None, reason="new", request_id=f"new-{request.content_hash[:16]}"
            ),
            dedup_key=f"new:{request.session_id}:{request.content_hash}",
        )

    def record(self, request: SummarizeRequest, result: Made, batch: bool = False) -> bool:
        """Store a made summary's metadata, lineage and usage; `batch` prices its call at the Message Batches rate
        (calls paid before it carry their own rate).

        False when it was recorded before, or the session is gone or being deleted.
        """
        priced = [(TokenUsage.model_validate(result["usage"]), batch)] + [
            (TokenUsage.model_validate(paid["usage"]), paid["batch"]) for paid in result.get("paid_before", [])
        ]
        usage = total_usage([tokens for tokens, _ in priced])
        model = RegistryEntry.make("summarizer-model", {"provider": result["provider"], "model_id": result["model_id"]})
        prompt = RegistryEntry.make("summarizer-prompt", PROMPT_VERSION_CONTENT)
        self.registry.put(model)
        self.registry.put(prompt)
        cost = self._cost(result["model_id"], priced)
        summary = SummaryMade(
            summary_key=result["summary_key"],
            model_version=model.version_id,
            prompt_version=prompt.version_id,
            usage=usage,
            cost_usd=cost,
            latency_ms=result["latency_ms"],
            stop_reason=result.get("stop_reason"),
        )
        recorded = self.sessions.mark_summarized(request.session_id, request.content_hash, summary)
        if recorded:
            self._count(result["model_id"], usage, cost)
        return recorded

    def count_paid_failure(
        self, error: SummarizerError, *, batch: bool = False, paid_before: Sequence[Paid] = ()
    ) -> None:
        """Count the tokens of answers that were paid for but are no summary (cut off, refused) in the usage table."""
        if error.usage is None or error.model_id is None:
            return
        priced = [*paid_before, (error.usage, batch)]
        self._count(error.model_id, total_usage([tokens for tokens, _ in priced]), self._cost(error.model_id, priced))

    def _count(self, model_id: str, usage: TokenUsage, cost: float | None) -> None:
        """Add a paid call to the usage table; bookkeeping after the call never fails the session (logged)."""
        try:
            self.usage.add(utc_now()[:10], model_id, usage, cost)
        except Exception:
            logger.exception("could not count a summarizer call in the usage table", model_id=model_id)

    @staticmethod
    def _cost(model_id: str, priced: Sequence[Paid]) -> float | None:
        """USD for the calls, or None when the price table has no price for the model (warned once per model)."""
        try:
            return sum(cost_usd(model_id, usage, batch=billed) for usage, billed in priced)
        except UnknownModelError as error:
            if model_id not in _UNPRICED_WARNED:
                _UNPRICED_WARNED.add(model_id)
                logger.warning(
                    "no price for this summarizer model: costs are recorded as unknown",
                    model_id=model_id,
                    problem=str(error),
                )
            return None
