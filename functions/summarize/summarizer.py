"""The summarizer port: what a summary call returns or raises, and the calls the functions make.

The adapters (Anthropic API, Amazon Bedrock) are in functions.summarize.providers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from schemas.contracts import Session, TokenUsage

CUT_OFF_STOP_REASON = "max_tokens"  # the answer reached its output budget


@dataclass(frozen=True)
class SummaryResult:
    text: str
    model_id: str
    provider: str
    usage: TokenUsage  # every call it took (a cut-off first answer is paid for too)
    latency_ms: int
    stop_reason: str | None


class SummarizerError(Exception):
    """A summary that could not be made; `retryable` says whether trying again later may help.

    When the model did answer (an unfinished summary, a refusal), `stop_reason` is the answer's and `usage` the
    tokens paid for, with the `model_id` that answered.
    """

    def __init__(
        self,
        message: str,
        retryable: bool,
        status: int | None = None,
        stop_reason: str | None = None,
        usage: TokenUsage | None = None,
        model_id: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        self.stop_reason, self.usage, self.model_id = stop_reason, usage, model_id

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self.message, self.retryable, self.status, self.stop_reason, self.usage, self.model_id)
        return (type(self), args)


def total_usage(usages: Sequence[TokenUsage]) -> TokenUsage:
    """The tokens of several calls added up."""
    fields = TokenUsage.model_fields
    return TokenUsage(**{name: sum(getattr(usage, name) for usage in usages) for name in fields})


@dataclass(frozen=True)
class BatchStatus:
    batch_id: str
    processing_status: str  # in_progress, canceling or ended
    latency_ms: int | None  # from creation to the end of processing, once ended

    @property
    def ended(self) -> bool:
        return self.processing_status == "ended"


BatchOutcome = SummaryResult | SummarizerError


class Summarizer(Protocol):
    """One call per summary, or (SummarizerMode=batch) Message Batches: submit, poll, read the results.

    `summarize` tries its output budgets (max_tokens) in turn while the answer is cut off at the budget; only an
    answer that ended on its own is a summary. `retry_budgets` are the budgets after the first one. With a
    `deadline` (time.monotonic() seconds) every call and its retries end before it.
    """

    @property
    def retry_budgets(self) -> tuple[int, ...]: ...

    def summarize(
        self, session: Session, *, budgets: Sequence[int] | None = None, deadline: float | None = None
    ) -> SummaryResult: ...

    def submit_batch(self, requests: Sequence[tuple[str, Session]]) -> str: ...

    def batch_status(self, batch_id: str) -> BatchStatus: ...

    def batch_results(self, batch_id: str, latency_ms: int = 0) -> Iterator[tuple[str, BatchOutcome]]: ...
