"""What answers the server's calls: a Backend, and the Outcome it decides for each call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from local_stack.messages_server.protocol import Generation


@dataclass(frozen=True)
class Outcome:
    """What the server does with one call: reply, fail with an error, or hang first."""

    kind: Literal["reply", "error", "hang", "expire"]
    status: int = 200
    message: str = ""
    text: str | None = None
    seconds: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)
    stop_reason: str | None = None  # a reply's stop_reason instead of the backend's own


def reply(text: str | None = None) -> Outcome:
    """Succeed; `text` overrides the backend's own summary."""
    return Outcome("reply", text=text)


def truncated(text: str = "Overview\nThe user planned", stop_reason: str = "max_tokens") -> Outcome:
    """Succeed with partial `text` that stopped for `stop_reason` (max_tokens: the output budget ran out)."""
    return Outcome("reply", text=text, stop_reason=stop_reason)


def fail(status: int, message: str | None = None, headers: Mapping[str, str] | None = None) -> Outcome:
    return Outcome("error", status=status, message=message or f"scripted {status} error", headers=headers or {})


def rate_limited(message: str = "Number of request tokens has exceeded your per-minute rate limit") -> Outcome:
    return fail(429, message)


def overloaded(message: str = "Overloaded") -> Outcome:
    return fail(529, message)


def hang(seconds: float) -> Outcome:
    """Wait `seconds` before replying (longer than the client's timeout, to make it give up)."""
    return Outcome("hang", seconds=seconds)


def expire() -> Outcome:
    """In a batch, the request's result is `expired`; a direct call gets a 504 instead."""
    return Outcome("expire", status=504, message="scripted expiry: the request was not processed in time")


class Backend(Protocol):
    def decide(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> Outcome: ...

    def generate(self, body: Mapping[str, Any], model: str) -> Generation: ...

    def count_tokens(self, body: Mapping[str, Any]) -> int: ...

    def close(self) -> bool:
        """Stop the work in flight; False if something that cannot be interrupted still runs."""
        ...
