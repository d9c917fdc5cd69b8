"""One summary per session content: the LLM call is made once, everything after it is repeatable."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from functions.common.clock import utc_now
from functions.common.queues import Queues
from functions.common.registry_store import RegistryStore
from functions.common.session_store import SessionStore
from functions.common.usage_store import UsageStore
from functions.summarize.pricing import cost_usd
from functions.summarize.prompt import PROMPT_VERSION_CONTENT
from functions.summarize.providers import SummarizerError
from schemas.contracts import SummarizeRequest, TokenUsage, TranslateRequest
from schemas.lineage import RegistryEntry

SummarizeOnce = Callable[[SummarizeRequest], dict[str, Any]]


def _reason(error: Exception) -> str:
    """What the session's `error` field says: the summarizer's own message, or the failing step's."""
    if isinstance(error, SummarizerError):
        return str(error)
    return f"{type(error).__name__}: {error}"


class SessionFailed(Exception):
    """The summary could not be made on this attempt; the message goes back to the queue."""


@dataclass
class SummarizeService:
    store: SessionStore
    registry: RegistryStore
    usage: UsageStore
    queues: Queues
    max_attempts: int

    def handle(self, request: SummarizeRequest, attempt: int, summarize_once: SummarizeOnce) -> str:
        item = self.store.get(request.session_id)
        if item is None or item["content_hash"] != request.content_hash:
            return "stale"  # the session was withdrawn or replaced: nothing to summarize
        if item["status"] == "FAILED":
            raise SessionFailed(f"session {request.session_id} is FAILED: {item.get('error')}")
        if item["status"] != "SUMMARIZED":
            try:
                self.record(request, summarize_once(request))
            except Exception as error:
                retryable = error.retryable if isinstance(error, SummarizerError) else True
                final = not retryable or attempt >= self.max_attempts
                self.store.mark_failed(request.session_id, _reason(error), attempt, final)
                raise SessionFailed(_reason(error)) from error
        self.request_translation(request)
        return "summarized"

    def request_translation(self, request: SummarizeRequest) -> None:
        """Ask the edge for every system's JSON; repeats within SQS's dedup window are delivered once."""
        self.queues.request_translation(
            TranslateRequest(
                summary_id=request.session_id, system=None, reason="new", request_id=f"new-{request.content_hash[:16]}"
            ),
            dedup_key=f"new:{request.session_id}:{request.content_hash}",
        )

    def record(self, request: SummarizeRequest, result: dict[str, Any], batch: bool = False) -> None:
        """Store a made summary's metadata, lineage and usage; `batch` prices it at the Message Batches rate."""
        usage = TokenUsage.model_validate(result["usage"])
        model = RegistryEntry.make("summarizer-model", {"provider": result["provider"], "model_id": result["model_id"]})
        prompt = RegistryEntry.make("summarizer-prompt", PROMPT_VERSION_CONTENT)
        self.registry.put(model)
        self.registry.put(prompt)
        cost = cost_usd(result["model_id"], usage, batch=batch)
        recorded = self.store.mark_summarized(
            request.session_id,
            request.content_hash,
            {
                "summary_key": result["summary_key"],
                "summarizer_model_version": model.version_id,
                "summarizer_prompt_version": prompt.version_id,
                "usage": usage.model_dump(),
                "cost_usd": Decimal(str(round(cost, 8))),
                "latency_ms": result["latency_ms"],
                "summarized_at": utc_now(),
            },
        )
        if recorded:
            self.usage.add(utc_now()[:10], result["model_id"], usage, cost)
