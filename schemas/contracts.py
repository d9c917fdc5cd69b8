"""Data that crosses a boundary: sessions, queue messages, the stored session item, refresh selections, errors.

The edge API's request and response bodies are in schemas.edge_api; every contract is published as JSON
Schema by schemas.publish.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

from schemas.chat import (
    MAX_BLOCKS,
    ContentBlock,
    FunctionCall,
    Role,
    ToolCall,
    is_blank,
    readable_content,
    tool_call_text,
)
from schemas.patterns import (
    DAY_PATTERN,
    EMBEDDING_VERSION_PATTERN,
    ERROR_CODE_PATTERN,
    ID_PATTERN,
    SHA256_PATTERN,
    SOURCE_PATTERN,
    SYSTEM_NAME_PATTERN,
    TIMESTAMP_PATTERN,
)

_DATE_TIME_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _date_time_text(value: Any) -> Any:
    """Only ISO 8601 text (or a datetime): pydantic would read "123" or 1796270000 as Unix times."""
    if isinstance(value, datetime) or (isinstance(value, str) and _DATE_TIME_TEXT.match(value)):
        return value
    raise ValueError("must be an ISO 8601 date-time with an offset, like 2026-11-24T09:00:00Z")


DateTime = Annotated[AwareDatetime, BeforeValidator(_date_time_text)]

MAX_TURN_CHARS = 100_000
MAX_QUERY_CHARS = 1000

Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
SourceName = Annotated[str, StringConstraints(pattern=SOURCE_PATTERN)]
SystemName = Annotated[str, StringConstraints(pattern=SYSTEM_NAME_PATTERN)]
EmbeddingVersion = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=EMBEDDING_VERSION_PATTERN)]
VersionRef = Annotated[str, StringConstraints(min_length=1, max_length=200)]  # a registry version named by a client
RequestId = Annotated[str, StringConstraints(min_length=1, max_length=128)]  # rf-..., new-..., reconcile-...
Sha256Hex = Annotated[str, StringConstraints(pattern=SHA256_PATTERN)]
Timestamp = Annotated[str, StringConstraints(pattern=TIMESTAMP_PATTERN)]
Day = Annotated[str, StringConstraints(pattern=DAY_PATTERN)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Task = Literal["translate", "embed"]


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")


def session_day(started_at: datetime | str) -> str:
    """A session's own date, YYYY-MM-DD: the calendar date of started_at in its own UTC offset, whatever day it
    was received (2024-12-31T23:30:00-08:00 -> 2024-12-31). Every date filter of the API means this date."""
    moment = datetime.fromisoformat(started_at) if isinstance(started_at, str) else started_at
    return moment.date().isoformat()


def _omitted(value: Any) -> bool:
    return value is None


TurnText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TURN_CHARS)]


class Turn(Contract):
    """One turn: plain text, or a list of content blocks (Anthropic Messages blocks, OpenAI message parts).

    An OpenAI chat message is a turn as it is (`name`, `tool_calls`, `tool_call_id`, `function_call`). Fields
    this contract does not name are kept in the turn's `metadata`. Optional fields left out are not stored, so
    a turn written before they existed keeps its content hash.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra={"additionalProperties": True})

    role: Role
    content: (
        TurnText | Literal[""] | Annotated[list[ContentBlock], Field(min_length=1, max_length=MAX_BLOCKS)] | None
    ) = Field(
        description="Text, or a list of content blocks; null or empty only in a message that calls tools, and "
        "empty in a tool's result."
    )
    timestamp: DateTime | None = None
    name: str | None = Field(default=None, min_length=1, max_length=256, exclude_if=_omitted)
    tool_calls: list[ToolCall] | None = Field(default=None, min_length=1, max_length=MAX_BLOCKS, exclude_if=_omitted)
    tool_call_id: str | None = Field(default=None, min_length=1, max_length=256, exclude_if=_omitted)
    function_call: FunctionCall | None = Field(default=None, exclude_if=_omitted)
    metadata: dict[str, Any] | None = Field(
        default=None, exclude_if=_omitted, description="The sender's own fields, and any field not named here."
    )

    @model_validator(mode="before")
    @classmethod
    def _keep_unknown_fields(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        unknown = {key: value for key, value in data.items() if key not in cls.model_fields}
        if not unknown:
            return data
        metadata = data.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            return data  # the metadata field's own check names the problem
        clash = sorted(set(unknown) & set(metadata or {}))
        if clash:
            raise ValueError(f"field {clash[0]!r} is sent both on the turn and in its metadata")
        known = {key: value for key, value in data.items() if key in cls.model_fields}
        return {**known, "metadata": {**(metadata or {}), **unknown}}

    def readable_parts(self) -> list[str]:
        """The turn's content as text, then its tool calls, each as a readable placeholder (schemas.chat)."""
        return [readable_content(self.content), *tool_call_text(self.tool_calls, self.function_call)]

    @model_validator(mode="after")
    def _has_content(self) -> Turn:
        calls = bool(self.tool_calls or self.function_call)
        if self.content is None and not calls:
            raise ValueError("content is required (it may be null only in a message that calls tools)")
        if self.content == "" and not (calls or self.role in ("tool", "function")):
            raise ValueError("content is empty (it may be empty only in a message that calls tools or a tool's result)")
        return self


class Session(Contract):
    """A session: `turns`, or the same thing as an OpenAI-style `messages` list (stored as turns)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["turns"]}, {"required": ["messages"]}]},
    )

    session_id: Identifier
    source: SourceName
    user_id: Identifier
    started_at: DateTime
    ended_at: DateTime
    turns: list[Turn] = Field(default_factory=list, min_length=1, description="Required unless messages is sent.")
    messages: list[Turn] | None = Field(
        default=None, min_length=1, exclude=True, description="OpenAI-style chat messages, accepted instead of turns."
    )
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ends_after_start(self) -> Session:
        if self.ended_at < self.started_at:
            raise ValueError(
                f"ended_at ({self.ended_at.isoformat()}) is before started_at ({self.started_at.isoformat()})"
            )
        if self.messages is not None:
            if self.turns:
                raise ValueError("send turns or messages, not both")
            self.turns, self.messages = self.messages, None
        if not self.turns:
            raise ValueError("a session needs at least one turn (turns, or messages)")
        return self

    def says_nothing(self) -> bool:
        """True when no turn has anything to read (blank text only, no tool call, other part or field of its own):
        nothing to summarize. Checked when a session is accepted, not when a stored one is read back."""
        return all(not turn.metadata and all(is_blank(part) for part in turn.readable_parts()) for turn in self.turns)

    def content_hash(self) -> str:
        """sha256 hex of the canonical JSON (sorted keys, compact, UTF-8) of this session."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class SessionStatus(str, Enum):
    RECEIVED = "RECEIVED"
    SUMMARIZED = "SUMMARIZED"
    FAILED = "FAILED"
    DELETING = "DELETING"  # hidden from every read until its data is gone


class TokenUsage(Contract):
    input_tokens: NonNegativeInt
    output_tokens: NonNegativeInt
    cache_read_input_tokens: NonNegativeInt = 0
    cache_creation_input_tokens: NonNegativeInt = 0


class Lineage(Contract):
    """The registry versions that made one system record; `translator_adapter_version` only when a LoRA adapter
    (registry kind translator-adapter) was applied, so records made without one keep their shape and hashes."""

    translator_model_version: VersionRef
    translator_prompt_version: VersionRef
    schema_version: VersionRef
    translator_adapter_version: VersionRef | None = Field(default=None, exclude_if=_omitted)


# The versions every record names (refresh selects by these); the adapter is named only when one was used.
LINEAGE_FIELDS: tuple[str, ...] = ("translator_model_version", "translator_prompt_version", "schema_version")
ADAPTER_FIELD = "translator_adapter_version"


def lineage_of(item: dict[str, Any]) -> Lineage:
    """The Lineage an item (record, state, proposal) keeps beside its document."""
    return Lineage(**{name: item[name] for name in (*LINEAGE_FIELDS, ADAPTER_FIELD) if item.get(name) is not None})


class SystemState(Lineage):
    """A system record's latest version as the session item keeps it (what the edge compares against); the lineage is
    the one the edge last translated it with (the version's own, unless a later translation changed nothing or
    waits as a proposal)."""

    version: int = Field(ge=1)
    updated_at: Timestamp
    document_hash: Sha256Hex


class EdgeJobMark(Contract):
    """On a session the edge is translating now: which edge, and how many of this job's systems are stored."""

    edge: str = Field(min_length=1, max_length=200)
    done: NonNegativeInt
    total: NonNegativeInt
    started_at: Timestamp


class SummaryRecord(Contract):
    """One item of the sessions table: a session, its status and, once made, its summary and per-system state.

    Numbers come back from DynamoDB as Decimal; the model accepts them.
    """

    session_id: Identifier
    source: SourceName
    user_id: Identifier
    status: SessionStatus
    content_hash: Sha256Hex
    received_at: Timestamp
    received_day: Day
    updated_at: Timestamp
    started_at: Timestamp
    raw_key: str = Field(min_length=1)
    turn_count: int = Field(ge=1)
    attempts: NonNegativeInt
    systems: dict[SystemName, SystemState]
    error: str | None = None
    summary_key: str | None = None
    summarizer_model_version: str | None = None
    summarizer_prompt_version: str | None = None
    usage: TokenUsage | None = None
    cost_usd: Decimal | None = Field(default=None, ge=0)
    latency_ms: NonNegativeInt | None = None
    stop_reason: str | None = Field(
        default=None,
        description="Why the model stopped: end_turn for a finished summary; any other reason (max_tokens: cut off "
        "at the output budget) is not a summary and leaves the session FAILED.",
    )
    summarized_at: Timestamp | None = None
    embedding_version: EmbeddingVersion | None = None
    edge_job: EdgeJobMark | None = Field(
        default=None, description="Set while an edge translates this summary (its progress); removed when it ends."
    )
    # SummarizerMode=batch: a submitter's claim, the batch holding the request, and the sparse index's key.
    batch_claim: str | None = None
    batch_claim_expires: int | None = Field(default=None, description="Epoch seconds.")
    batch_id: str | None = None
    batch_state: Literal["PENDING"] | None = None
    batch_submitted_at: Timestamp | None = None
    failed_batch_id: str | None = None
    distill_keys: set[str] | None = Field(
        default=None,
        description="The idempotency keys (canonical JSON) of the distillation calls made for this summary; its "
        "deletion removes their records.",
    )
    # A deletion in progress: the user deletion job that marked it (none for a single session's DELETE).
    deletion_job: str | None = None
    deletion_requested_at: Timestamp | None = None


class SummarizeRequest(Contract):
    session_id: Identifier
    content_hash: Sha256Hex


class TranslateRequest(Contract):
    summary_id: Identifier
    system: SystemName | None = Field(default=None, description="None asks for every active system.")
    reason: Literal["new", "refresh", "backfill"]
    request_id: RequestId
    task: Task = Field(default="translate", description="embed asks for the summary's search embedding only.")


class QueryEmbeddingRequest(Contract):
    """A free-text search waiting for the edge to embed it (the query queue's message)."""

    query_id: Identifier
    text: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    embedding_version: EmbeddingVersion


class RefreshSelector(Contract):
    """POST /refresh: what to translate (or embed) again; no selector means every summary."""

    task: Task = "translate"
    summary_id: Identifier | None = None
    system: SystemName | None = None
    translator_model_version: VersionRef | None = None
    translator_prompt_version: VersionRef | None = None
    schema_version: VersionRef | None = None
    force: StrictBool = Field(
        default=False, description="Replace records a user edited (otherwise the new output waits as a proposal)."
    )

    @model_validator(mode="after")
    def _one_kind_of_selection(self) -> RefreshSelector:
        versions = [name for name in LINEAGE_FIELDS if getattr(self, name)]
        if len(versions) > 1:
            raise ValueError(f"choose one version selector, not {', '.join(versions)}")
        if versions and (self.summary_id or self.system):
            raise ValueError("a version selector cannot be combined with summary_id or system")
        if self.task == "embed" and (versions or self.system):
            raise ValueError("task embed re-embeds summaries: select them by summary_id or not at all")
        return self

    def version_selector(self) -> tuple[str, str] | None:
        """(lineage field, version) when records are selected by the version that made them."""
        return next(((name, getattr(self, name)) for name in LINEAGE_FIELDS if getattr(self, name)), None)


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
