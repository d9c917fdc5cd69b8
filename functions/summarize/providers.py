"""The summarizer port's adapters: the Anthropic API and Amazon Bedrock, through the `anthropic` SDK.

Only this module imports `anthropic` (the functions build it on first use); the SDK's own retries (exponential backoff, retry-after)
handle 408/409/429/5xx/529 and timeouts before an error reaches the caller. Backlogs can go
through the Message Batches API instead (Anthropic API only): submit, poll, read results.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import anthropic

from functions.settings import DEFAULT_SUMMARIZER_MAX_TOKENS, SettingError, Settings
from functions.summarize.prompt import build_messages
from functions.summarize.summarizer import (
    CUT_OFF_STOP_REASON,
    BatchOutcome,
    BatchStatus,
    SummarizerError,
    SummaryResult,
    total_usage,
)
from schemas.contracts import Session, TokenUsage
from schemas.json_text import without_unpaired_surrogates

SECRET_CACHE_SECONDS = 300
# Error types in a batch result that may succeed when the request is sent again.
RETRYABLE_BATCH_ERRORS = ("api_error", "overloaded_error", "rate_limit_error", "timeout_error")
# An answer that ended on its own (we set no stop_sequences); any other stop reason is not a finished summary.
FINISHED_STOP_REASONS = frozenset({"end_turn", "stop_sequence"})
# Before a deadline: time kept for storing the summary after the call, and the shortest call worth making.
RESERVE_SECONDS = 5.0
MIN_CALL_SECONDS = 1.0
# The SDK's backoff between retries: 0.5 s doubled each time, at most 8 s (anthropic._constants).
FIRST_RETRY_WAIT_S, MAX_RETRY_WAIT_S = 0.5, 8.0

T = TypeVar("T")


def _is_retryable_status(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


class AnthropicSummarizer:
    """Summarizes with the Messages API of an `anthropic.Anthropic` or `anthropic.AnthropicBedrock` client."""

    def __init__(
        self,
        client: Any,
        model_id: str,
        max_tokens: int = DEFAULT_SUMMARIZER_MAX_TOKENS,
        provider: str = "anthropic",
        secrets: tuple[str, ...] = (),
        retry_max_tokens: int | None = None,
    ):
        self._client = client
        self.model_id = model_id
        self.max_tokens = max_tokens
        self.provider = provider
        self._secrets = tuple(secret for secret in secrets if secret)
        # One more try with a larger output budget when an answer is cut off at max_tokens.
        self.retry_budgets: tuple[int, ...] = (
            (retry_max_tokens,) if retry_max_tokens and retry_max_tokens > max_tokens else ()
        )

    def request_params(self, session: Session) -> dict[str, Any]:
        """The Messages API parameters for one session, the same for a direct call and a batch request."""
        system, messages = build_messages(session)
        return {"model": self.model_id, "max_tokens": self.max_tokens, "system": system, "messages": messages}

    def summarize(
        self, session: Session, *, budgets: Sequence[int] | None = None, deadline: float | None = None
    ) -> SummaryResult:
        """The summary of one session: asked with each of `budgets` (default: max_tokens, then the retry budget)
        while the answer is cut off at the budget; each call with its retries ends RESERVE_SECONDS before
        `deadline` (time.monotonic() seconds). Raises SummarizerError, with the tokens paid so far."""
        budgets = list(budgets or (self.max_tokens, *self.retry_budgets))
        params = {key: value for key, value in self.request_params(session).items() if key != "max_tokens"}
        paid: list[TokenUsage] = []
        latency_ms = 0
        for number, budget in enumerate(budgets, start=1):
            started = time.perf_counter()
            try:
                client = self._client_before(deadline)
                message = self._call(functools.partial(client.messages.create, **params, max_tokens=budget), client)
            except SummarizerError as error:
                if paid:  # the cut-off answers before this call were paid for
                    error.usage, error.model_id = total_usage(paid), self.model_id
                raise
            latency_ms += round((time.perf_counter() - started) * 1000)
            if message.stop_reason == CUT_OFF_STOP_REASON and number < len(budgets):
                paid.append(_usage(message))
                continue
            return self._result(message, latency_ms, budget, paid)
        raise ValueError("summarize needs at least one output budget")

    def complete(
        self, system: str, messages: list[dict[str, Any]], max_tokens: int, *, deadline: float | None = None
    ) -> SummaryResult:
        """One Messages API call with another prompt (the distillation's), through the same client, retries and
        error handling as a summary; raises SummarizerError (with the tokens paid) for an unfinished answer."""
        started = time.perf_counter()
        client = self._client_before(deadline)
        params = {"model": self.model_id, "max_tokens": max_tokens, "system": system, "messages": messages}
        message = self._call(functools.partial(client.messages.create, **params), client)
        return self._result(message, round((time.perf_counter() - started) * 1000), max_tokens)

    def count_tokens(self, system: str, messages: list[dict[str, Any]]) -> int:
        """Input tokens of a request, counted by the Messages API's count_tokens; raises SummarizerError."""
        counted = self._call(
            lambda: self._client.messages.count_tokens(model=self.model_id, system=system, messages=messages)
        )
        return int(counted.input_tokens)

    def _client_before(self, deadline: float | None) -> Any:
        """The client with a per-try timeout and a number of retries whose total (tries plus the SDK's backoff)
        ends before `deadline`; a server's retry-after longer than that backoff can still overrun it."""
        if deadline is None:
            return self._client
        budget = deadline - time.monotonic() - RESERVE_SECONDS
        if budget < MIN_CALL_SECONDS:
            raise self._error(
                f"{self.provider} call not made: {max(budget, 0):.1f} s left before the invocation ends", True
            )
        timeout = min(_seconds(self._client.timeout) or budget, budget)
        retries = int(self._client.max_retries)
        while retries and (retries + 1) * timeout + _backoff(retries) > budget:
            retries -= 1
        return self._client.with_options(timeout=timeout, max_retries=retries)

    def submit_batch(self, requests: Sequence[tuple[str, Session]]) -> str:
        """Send one Message Batch with a request per (custom_id, session); returns the batch id."""
        if self.provider != "anthropic":
            raise self._error(
                f"Message Batches are not available through {self.provider}; deploy with SummarizerMode=realtime", False
            )
        if not requests:
            raise ValueError("a batch needs at least one request")
        body = [{"custom_id": custom_id, "params": self.request_params(session)} for custom_id, session in requests]
        return self._call(lambda: self._client.messages.batches.create(requests=body)).id

    def batch_status(self, batch_id: str) -> BatchStatus:
        batch = self._call(lambda: self._client.messages.batches.retrieve(batch_id))
        latency_ms = None
        if batch.ended_at is not None:
            latency_ms = max(0, round((batch.ended_at - batch.created_at).total_seconds() * 1000))
        return BatchStatus(batch.id, batch.processing_status, latency_ms)

    def batch_results(self, batch_id: str, latency_ms: int = 0) -> Iterator[tuple[str, BatchOutcome]]:
        """Each request's custom_id with its summary, or the error that ended it (results come in any order)."""
        decoder = self._call(lambda: self._client.messages.batches.results(batch_id))
        stream = iter(decoder)
        try:
            while True:
                line = self._call(lambda: next(stream, None))
                if line is None:
                    return
                yield line.custom_id, self._batch_outcome(batch_id, line.result, latency_ms)
        finally:
            decoder.close()

    def _batch_outcome(self, batch_id: str, result: Any, latency_ms: int) -> BatchOutcome:
        where = f"{self.provider} batch {batch_id}"
        if result.type == "succeeded":
            try:
                return self._result(result.message, latency_ms, self.max_tokens)
            except SummarizerError as error:
                return error
        if result.type == "errored":
            failure = result.error.error
            return self._error(
                f"{where}: request errored: {failure.type}: {failure.message}", failure.type in RETRYABLE_BATCH_ERRORS
            )
        if result.type == "expired":
            return self._error(f"{where}: request expired before it was processed (batches end after 24 hours)", True)
        return self._error(f"{where}: request was {result.type} before it was processed", True)

    def _call(self, call: Callable[[], T], client: Any = None) -> T:
        """Run one SDK call (made with `client`, default the summarizer's), turning its errors into a
        SummarizerError that names what failed."""
        try:
            return call()
        except anthropic.APIStatusError as error:
            raise self._error(
                self._describe_status(error), _is_retryable_status(error.status_code), error.status_code
            ) from None
        except anthropic.APITimeoutError:
            raise self._error(
                f"{self.provider} request timed out after {self._timeout_text(client or self._client)} "
                f"(retries exhausted)",
                True,
            ) from None
        except anthropic.APIConnectionError as error:
            cause = error.__cause__
            detail = f": {type(cause).__name__}: {cause}" if cause else ""
            raise self._error(f"{self.provider} connection failed (retries exhausted){detail}", True) from None
        except (anthropic.AnthropicError, RuntimeError) as error:
            # Client-side failures such as unresolvable AWS credentials: retrying the same call will not help.
            raise self._error(f"{self.provider} client error: {type(error).__name__}: {error}", False) from None

    def _result(
        self, message: Any, latency_ms: int, budget: int, paid_before: Sequence[TokenUsage] = ()
    ) -> SummaryResult:
        """The summary in `message`, answered within `budget` output tokens; SummarizerError (not retryable, with
        the stop reason and every token paid for) when the answer is not a finished summary."""
        text = "".join(block.text for block in message.content if getattr(block, "type", None) == "text").strip()
        text = without_unpaired_surrogates(text)  # half an emoji cut by the model; UTF-8 cannot store it
        usage = total_usage([*paid_before, _usage(message)])
        model_id, stop_reason = message.model or self.model_id, message.stop_reason
        where = f"{self.provider} model {model_id}"
        problem = None
        if stop_reason == "refusal":
            problem = f"{where} refused to summarize the session"
        elif stop_reason == CUT_OFF_STOP_REASON:
            retried = " (also after a retry with a larger budget)" if paid_before else ""
            problem = (
                f"{where} stopped with stop_reason={stop_reason}: the summary was cut off at its budget of {budget} "
                f"output tokens{retried}"
            )
        elif stop_reason not in FINISHED_STOP_REASONS:
            problem = f"{where} stopped with stop_reason={stop_reason}: the summary is not finished"
        elif not text:
            problem = f"{where} returned no text (stop_reason={stop_reason})"
        if problem:
            raise self._error(problem, False, stop_reason=stop_reason, usage=usage, model_id=model_id)
        return SummaryResult(
            text=text,
            model_id=model_id,
            provider=self.provider,
            usage=usage,
            latency_ms=latency_ms,
            stop_reason=stop_reason,
        )

    def _describe_status(self, error: anthropic.APIStatusError) -> str:
        kind = error.type or "error"
        detail = error.api_message or (error.body if isinstance(error.body, str) else "") or "no message"
        request_id = f", request-id {error.request_id}" if error.request_id else ""
        return f"{self.provider} returned HTTP {error.status_code} {kind}: {detail}{request_id}"

    @staticmethod
    def _timeout_text(client: Any) -> str:
        seconds = _seconds(getattr(client, "timeout", None))
        return f"{seconds:.3g}s" if seconds is not None else "the client timeout"

    def _error(self, message: str, retryable: bool, status: int | None = None, **answered: Any) -> SummarizerError:
        """`answered`: stop_reason, usage and model_id when the model did answer."""
        for secret in self._secrets:
            message = message.replace(secret, "[redacted]")
        return SummarizerError(message, retryable=retryable, status=status, **answered)


def _seconds(timeout: Any) -> float | None:
    """A client timeout (seconds, or an httpx.Timeout) as the seconds one read may take."""
    seconds = getattr(timeout, "read", timeout)
    return float(seconds) if isinstance(seconds, (int, float)) else None


def _backoff(retries: int) -> float:
    return sum(min(FIRST_RETRY_WAIT_S * 2**retry, MAX_RETRY_WAIT_S) for retry in range(retries))


def _usage(message: Any) -> TokenUsage:
    usage = message.usage
    return TokenUsage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_input_tokens=usage.cache_read_input_tokens or 0,
        cache_creation_input_tokens=usage.cache_creation_input_tokens or 0,
    )


def _api_key(settings: Settings) -> str:
    if settings.anthropic_api_key:
        return settings.anthropic_api_key
    parameter = settings.anthropic_api_key_parameter
    if not parameter:
        raise SettingError("set ANTHROPIC_API_KEY_PARAMETER (an SSM SecureString name) or, locally, ANTHROPIC_API_KEY")
    from aws_lambda_powertools.utilities.parameters import get_parameter

    # Powertools caches the decrypted value in memory for max_age seconds.
    try:
        return str(get_parameter(parameter, decrypt=True, max_age=SECRET_CACHE_SECONDS))
    except Exception as error:
        raise SummarizerError(
            f"cannot read SSM parameter {parameter!r}: {type(error).__name__}: {error}", retryable=True
        ) from None


def summarizer_for(settings: Settings) -> AnthropicSummarizer:
    """The configured summarizer; raises SettingError (a ValueError) naming a missing or bad variable."""
    provider, model_id = settings.summarizer_provider, settings.summarizer_model_id
    timeout, max_retries = settings.llm_timeout_seconds, settings.llm_max_retries
    max_tokens, retry_max_tokens = settings.summarizer_max_tokens, settings.summarizer_retry_max_tokens
    if provider == "anthropic":
        api_key = _api_key(settings)
        client = anthropic.Anthropic(
            api_key=api_key, base_url=settings.anthropic_base_url, timeout=timeout, max_retries=max_retries
        )
        return AnthropicSummarizer(
            client, model_id, max_tokens, provider="anthropic", secrets=(api_key,), retry_max_tokens=retry_max_tokens
        )
    region = settings.aws_region or settings.aws_default_region
    if not region:
        raise SettingError("AWS_REGION (or AWS_DEFAULT_REGION) is required for SUMMARIZER_PROVIDER=bedrock")
    # No explicit keys: the SDK signs with the standard AWS credential chain (the Lambda role).
    bedrock = anthropic.AnthropicBedrock(
        aws_region=region, base_url=settings.anthropic_bedrock_base_url, timeout=timeout, max_retries=max_retries
    )
    return AnthropicSummarizer(bedrock, model_id, max_tokens, provider="bedrock", retry_max_tokens=retry_max_tokens)
