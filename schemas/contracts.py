"""Data that crosses a boundary: HTTP bodies, queue messages and the stored session/summary record."""

from __future__ import annotations

import hashlib
import json
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
NAME_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
ERROR_CODE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
# Same as schemas.system_definition.NAME_PATTERN (kept here so ingest does not import jsonschema).
SYSTEM_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"

# The ingest function enforces this (configurable); the model itself does not cap turns.
DEFAULT_MAX_TURNS = 500
MAX_TURN_CHARS = 100_000

Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Sha256Hex = Annotated[str, StringConstraints(pattern=SHA256_PATTERN)]
NonNegativeInt = Annotated[int, Field(ge=0)]


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Turn(Contract):
    role: Literal["user", "assistant", "system", "tool"]
    content: str = Field(min_length=1, max_length=MAX_TURN_CHARS)
    timestamp: AwareDatetime | None = None


class Session(Contract):
    session_id: Identifier
    source: Name
    user_id: Identifier
    started_at: AwareDatetime
    ended_at: AwareDatetime
    turns: list[Turn] = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ends_after_start(self) -> Session:
        if self.ended_at < self.started_at:
            raise ValueError(
                f"ended_at ({self.ended_at.isoformat()}) is before started_at ({self.started_at.isoformat()})"
            )
        return self

    def content_hash(self) -> str:
        """sha256 hex of the canonical JSON (sorted keys, compact, UTF-8) of this session."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class SessionStatus(str, Enum):
    RECEIVED = "RECEIVED"
    SUMMARIZED = "SUMMARIZED"
    FAILED = "FAILED"


class TokenUsage(Contract):
    input_tokens: NonNegativeInt
    output_tokens: NonNegativeInt
    cache_read_input_tokens: NonNegativeInt = 0
    cache_creation_input_tokens: NonNegativeInt = 0


class SummaryRecord(Contract):
    """What the sessions table stores for one session and its summary."""

    session_id: Identifier
    source: Name
    user_id: Identifier
    status: SessionStatus
    content_hash: Sha256Hex
    received_at: AwareDatetime
    updated_at: AwareDatetime
    started_at: AwareDatetime
    raw_key: str = Field(min_length=1)
    summary_key: str | None = None
    summarizer_model_version: str | None = None
    summarizer_prompt_version: str | None = None
    usage: TokenUsage | None = None
    cost_usd: float | None = Field(default=None, ge=0)
    latency_ms: NonNegativeInt | None = None
    error: str | None = None
    attempts: NonNegativeInt = 0


class SummarizeRequest(Contract):
    session_id: Identifier
    content_hash: Sha256Hex


class TranslateRequest(Contract):
    summary_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,255}$")]
    system: Annotated[str, StringConstraints(pattern=SYSTEM_NAME_PATTERN)] | None = Field(
        default=None, description="None asks for every active system."
    )
    reason: Literal["new", "refresh", "backfill"]
    request_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    task: Literal["translate", "embed"] = Field(
        default="translate", description="embed asks for the summary's search embedding only."
    )


class ErrorBody(Contract):
    error: Annotated[str, StringConstraints(pattern=ERROR_CODE_PATTERN)] = Field(
        description='Machine-readable code, e.g. "invalid_json".'
    )
    message: str = Field(min_length=1, description="Human-readable sentence naming the problem.")
    details: list[dict[str, Any]] | None = None


class SessionAccepted(Contract):
    session_id: Identifier
    status: SessionStatus
    status_url: str = Field(min_length=1)


PUBLIC_CONTRACTS: dict[str, type[BaseModel]] = {
    "Session": Session,
    "Turn": Turn,
    "SummaryRecord": SummaryRecord,
    "SummarizeRequest": SummarizeRequest,
    "TranslateRequest": TranslateRequest,
    "ErrorBody": ErrorBody,
    "SessionAccepted": SessionAccepted,
}
