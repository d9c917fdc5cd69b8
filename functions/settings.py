"""Every environment variable the functions read, in one place (template.yaml sets them).

Each function's wiring calls `Settings().require(...)` with the variables it cannot run without, so a
missing one fails the cold start with its name. Tunables have defaults; LOCAL_ONLY variables are never
set by the template (local development and tests set them).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")

SUMMARIZER_PROVIDERS = ("anthropic", "bedrock")
SUMMARIZER_MODES = ("realtime", "batch")
DEFAULT_SUMMARIZER_MAX_TOKENS = 2048
DEFAULT_SUMMARIZER_RETRY_MAX_TOKENS = 8192


class SettingError(ValueError):
    """A variable is missing or malformed; the message names it."""


class _Required:
    def __repr__(self) -> str:
        return "required"


REQUIRED = _Required()


class Variable(Generic[T]):
    """One environment variable: its name, how its text becomes a value, and its default (or REQUIRED)."""

    def __init__(self, name: str, parse: Callable[[str], T], default: T | _Required, local_only: bool = False):
        self.name, self.parse, self.default, self.local_only = name, parse, default, local_only

    @overload
    def __get__(self, settings: None, owner: type) -> Variable[T]: ...

    @overload
    def __get__(self, settings: Settings, owner: type) -> T: ...

    def __get__(self, settings: Settings | None, owner: type) -> Variable[T] | T:
        if settings is None:
            return self
        raw = settings.environ.get(self.name, "").strip()
        if not raw:
            if isinstance(self.default, _Required):
                raise SettingError(f"{self.name} is not set (template.yaml sets it for the functions that use it)")
            return self.default
        return self.parse(raw)


def _text(name: str) -> Variable[str]:
    return Variable(name, str, REQUIRED)


def _optional(name: str, local_only: bool = False) -> Variable[str | None]:
    return Variable(name, str, None, local_only)


def _number(name: str, kind: Callable[[str], T], default: T) -> Variable[T]:
    def parse(raw: str) -> T:
        try:
            value: Any = kind(raw)
        except ValueError:
            raise SettingError(f"{name} must be a {getattr(kind, '__name__', kind)}, got {raw!r}") from None
        if value < 0:
            raise SettingError(f"{name} must not be negative, got {raw!r}")
        return value

    return Variable(name, parse, default)


def _choice(name: str, choices: tuple[str, ...], default: str) -> Variable[str]:
    def parse(raw: str) -> str:
        value = raw.lower()
        if value not in choices:
            raise SettingError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
        return value

    return Variable(name, parse, default)


class Settings:
    # ----- resources (template.yaml Globals or the function's own Environment) -----
    sessions_table = _text("SESSIONS_TABLE")
    records_table = _text("RECORDS_TABLE")
    history_table = _text("HISTORY_TABLE")
    registry_table = _text("REGISTRY_TABLE")
    usage_table = _text("USAGE_TABLE")
    tokens_table = _text("TOKENS_TABLE")
    refresh_table = _text("REFRESH_TABLE")
    embeddings_table = _text("EMBEDDINGS_TABLE")
    query_embeddings_table = _text("QUERY_EMBEDDINGS_TABLE")
    idempotency_table = _text("IDEMPOTENCY_TABLE")
    connections_table = _text("CONNECTIONS_TABLE")
    changes_table = _text("CHANGES_TABLE")
    deletions_table = _text("DELETIONS_TABLE")
    data_bucket = _text("DATA_BUCKET")
    summarize_queue_url = _text("SUMMARIZE_QUEUE_URL")
    edge_queue_url = _text("EDGE_QUEUE_URL")
    backfill_queue_url = _text("BACKFILL_QUEUE_URL")
    query_queue_url = _text("QUERY_QUEUE_URL")
    websocket_management_url = _text("WEBSOCKET_MANAGEMENT_URL")
    deletion_queue_url = _text("DELETION_QUEUE_URL")
    change_bus_name = _text("CHANGE_BUS_NAME")

    # ----- limits and timing -----
    max_session_bytes = _number("MAX_SESSION_BYTES", int, 1_048_576)
    max_turns = _number("MAX_TURNS", int, 500)
    refresh_window_seconds = _number("REFRESH_WINDOW_SECONDS", int, 300)
    summarize_max_attempts = _number("SUMMARIZE_MAX_ATTEMPTS", int, 3)
    search_edge_wait_seconds = _number("SEARCH_EDGE_WAIT_SECONDS", float, 6.0)
    edge_online_seconds = _number("EDGE_ONLINE_SECONDS", int, 180)

    # ----- the summarizer -----
    summarizer_mode = _choice("SUMMARIZER_MODE", SUMMARIZER_MODES, "realtime")
    summarizer_provider = _choice("SUMMARIZER_PROVIDER", SUMMARIZER_PROVIDERS, "anthropic")
    summarizer_model_id = _text("SUMMARIZER_MODEL_ID")
    summarizer_max_tokens = _number("SUMMARIZER_MAX_TOKENS", int, DEFAULT_SUMMARIZER_MAX_TOKENS)
    # The one larger budget a summary cut off at SUMMARIZER_MAX_TOKENS is asked again with (no retry if not larger).
    summarizer_retry_max_tokens = _number("SUMMARIZER_RETRY_MAX_TOKENS", int, DEFAULT_SUMMARIZER_RETRY_MAX_TOKENS)
    llm_timeout_seconds = _number("LLM_TIMEOUT_SECONDS", float, 60.0)
    llm_max_retries = _number("LLM_MAX_RETRIES", int, 2)
    anthropic_api_key_parameter = _optional("ANTHROPIC_API_KEY_PARAMETER")  # an SSM SecureString name
    anthropic_api_key = _optional("ANTHROPIC_API_KEY", local_only=True)  # instead of the SSM parameter
    anthropic_base_url = _optional("ANTHROPIC_BASE_URL", local_only=True)  # the local Messages API server
    anthropic_bedrock_base_url = _optional("ANTHROPIC_BEDROCK_BASE_URL", local_only=True)
    # Set by the Lambda runtime itself (and by the local stack).
    aws_region = _optional("AWS_REGION", local_only=True)
    aws_default_region = _optional("AWS_DEFAULT_REGION", local_only=True)

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    @classmethod
    def variables(cls) -> dict[str, Variable[Any]]:
        """Every variable, by name."""
        return {v.name: v for v in vars(cls).values() if isinstance(v, Variable)}

    def require(self, *needed: Variable[Any]) -> Settings:
        """Check that every one of `needed` is set (and parses); raises SettingError naming the missing ones."""
        missing = [v.name for v in needed if not self.environ.get(v.name, "").strip()]
        if missing:
            raise SettingError(f"required environment variables are not set: {', '.join(missing)}")
        for variable in needed:
            variable.__get__(self, Settings)
        return self
