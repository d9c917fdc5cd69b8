"""The summarizer port: what a summary call returns or raises, and the calls the functions make.

The adapters (Anthropic API, Amazon Bedrock) are in functions.summarize.providers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from schemas.contracts import Session, TokenUsage


@dataclass(frozen=True)
class SummaryResult:
    text: str
    model_id: str
    provider: str
    usage: TokenUsage
    latency_ms: int
    stop_reason: str | None


class SummarizerError(Exception):
    """A summary that could not be made; `retryable` says whether trying again later may help."""

    def __init__(self, message: str, retryable: bool, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.retryable, self.status))


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
    """One call per summary, or (SummarizerMode=batch) Message Batches: submit, poll, read the results."""

    def summarize(self, session: Session) -> SummaryResult: ...

    def submit_batch(self, requests: Sequence[tuple[str, Session]]) -> str: ...

    def batch_status(self, batch_id: str) -> BatchStatus: ...

    def batch_results(self, batch_id: str, latency_ms: int = 0) -> Iterator[tuple[str, BatchOutcome]]: ...
