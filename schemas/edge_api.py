"""The edge API's bodies: what the edge worker sends (uploads, heartbeat) and what the cloud answers.

Routes are in schemas.routes. The cloud parses the uploads with these models and builds its answers from them.
Uploads refuse unknown fields; answers ignore them, so an edge keeps working against a newer cloud.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from schemas.contracts import (
    Contract,
    EmbeddingVersion,
    Identifier,
    Lineage,
    NonNegativeInt,
    RequestId,
    SourceName,
    SystemName,
    SystemState,
    Timestamp,
)
from schemas.patterns import REGISTRY_KIND_PATTERN

MIN_DIMENSIONS = 2
MAX_DIMENSIONS = 8192

Vector = list[float]
MAX_JOB_SUMMARIES = 50
# The model `make run` prepares when no other is configured (edge_worker.model_store): a demo, not a translator to
# trust. A model id naming it marks an edge and its records as "offline demo model".
OFFLINE_DEMO_MODEL_PREFIX = "SmolLM2-135M-Instruct"


def is_offline_demo_model(model_id: str | None) -> bool:
    return bool(model_id) and str(model_id).startswith(OFFLINE_DEMO_MODEL_PREFIX)


# ----- what the edge sends -----
class RecordUpload(Contract):
    """PUT EDGE_RECORD: one system's JSON for a summary, with the versions that made it."""

    document: dict[str, Any]
    lineage: Lineage
    expected_version: int = Field(ge=0, description="The version the edge read (0: none yet); stale ones get 409.")
    request_id: RequestId | None = None
    translate_ms: NonNegativeInt | None = Field(
        default=None, description="Wall-clock milliseconds the edge spent translating this document (its decode)."
    )


class RegistryUpload(Contract):
    """PUT EDGE_REGISTRY: a content-addressed registry entry (the path's version id must be its hash)."""

    kind: str = Field(pattern=REGISTRY_KIND_PATTERN)
    content: dict[str, Any]


class EmbeddingUpload(Contract):
    """PUT EDGE_EMBEDDING: a summary's search vector."""

    embedding_version: EmbeddingVersion
    vector: Vector = Field(min_length=MIN_DIMENSIONS, max_length=MAX_DIMENSIONS)
    request_id: RequestId | None = None


class QueryEmbeddingUpload(Contract):
    """PUT EDGE_QUERY_EMBEDDING: the vector of a search query the cloud asked for."""

    embedding_version: EmbeddingVersion
    vector: Vector = Field(min_length=MIN_DIMENSIONS, max_length=MAX_DIMENSIONS)


class DistillRequest(Contract):
    """POST EDGE_DISTILL: ask the cloud model for one summary's JSON for one published system, in the system's
    active definition; with `estimate` only the input tokens are counted (count_tokens) and nothing is paid."""

    summary_id: Identifier
    system: SystemName
    estimate: StrictBool = False


class JobSummary(Contract):
    """One summary of the job in flight: how many of its systems are stored so far."""

    summary_id: Identifier
    done: NonNegativeInt
    total: NonNegativeInt


class EdgeJob(Contract):
    """The work the edge is doing now: the summaries of one batch, since `started_at`."""

    summaries: list[JobSummary] = Field(max_length=MAX_JOB_SUMMARIES)
    reason: Literal["new", "refresh", "backfill"]
    started_at: Timestamp


class QueueDepths(Contract):
    """SQS ApproximateNumberOfMessages (waiting) and ...NotVisible (held by a worker) of the edge's queues."""

    edge: NonNegativeInt | None = None
    edge_in_flight: NonNegativeInt | None = None
    backfill: NonNegativeInt | None = None


class Heartbeat(Contract):
    """PUT EDGE_HEARTBEAT: the edge is online, embeds with this model and reports what it is doing.

    Sent periodically and on each change of its work (a job starts, a system is stored, the edge goes idle), never per
    token. Every field but the embedding model is optional, so an older edge's beat is still accepted.
    """

    embedding_version: EmbeddingVersion | None = None
    model_id: str | None = Field(default=None, max_length=200, description="The translator model's registry model_id.")
    model_version: str | None = Field(default=None, max_length=200, description="Its translator-model version id.")
    state: Literal["idle", "translating"] | None = None
    job: EdgeJob | None = None
    queue: QueueDepths | None = None
    seconds_per_summary: float | None = Field(
        default=None, ge=0, le=86400, description="Measured: wall-clock seconds per summary over its recent jobs."
    )

    @model_validator(mode="after")
    def _names_a_model(self) -> Heartbeat:
        if self.embedding_version is None and self.model_version is None:
            raise ValueError("a heartbeat names the model the edge runs: embedding_version or model_version")
        return self


# ----- what the cloud answers -----
class Reply(BaseModel):
    """An answer the edge reads: fields it does not know (added by a newer cloud) are ignored."""

    model_config = ConfigDict(extra="ignore")


class SystemStateReply(SystemState):
    """SystemState as an answer carries it."""

    model_config = ConfigDict(extra="ignore")


class EdgeSummary(Reply):
    """GET EDGE_SUMMARY: a summary to translate, with each system's stored state."""

    summary_id: Identifier
    source: SourceName
    text: str
    summarizer_model_version: str | None = None
    systems: dict[SystemName, SystemStateReply]
    embedding_version: EmbeddingVersion | None = None
    stored_for_request: list[SystemName] = Field(
        default_factory=list,
        description="With ?request_id= of a refresh: the systems it already stored for this summary.",
    )


class PendingSummary(Reply):
    summary_id: Identifier
    systems: dict[SystemName, SystemStateReply]
    embedding_version: EmbeddingVersion | None = None


class PendingPage(Reply):
    """GET EDGE_PENDING: summarized sessions, oldest first; `next` continues the listing."""

    items: list[PendingSummary]
    next: str | None = None


class RecordStored(Reply):
    """PUT EDGE_RECORD's answer (201 when created, else 200); `proposed`: the user edited the record, so the
    upload waits beside it for the user to accept or dismiss."""

    outcome: Literal["created", "updated", "unchanged", "proposed"]
    version: int = Field(ge=1)


class SystemPublished(Reply):
    """PUT EDGE_SYSTEM's answer; a changed definition queues a backfill of every summary."""

    name: SystemName
    description: str
    definition_version: str
    schema_version: str
    changed: bool
    backfill_request_id: str | None = None


class SystemRetired(Reply):
    """DELETE EDGE_SYSTEM's answer: the system is no longer published (its records and registry entries stay)."""

    name: SystemName
    definition_version: str


class RegistryStored(Reply):
    version_id: str
    created: bool


class EmbeddingStored(Reply):
    summary_id: Identifier
    embedding_version: EmbeddingVersion


class QueryEmbeddingStored(Reply):
    query_id: Identifier
    embedding_version: EmbeddingVersion


class DistillAnswer(Reply):
    """POST EDGE_DISTILL's answer. An estimate has `input_tokens` (None when the provider cannot count them) and
    the most `cost_usd` the call may take (input plus max_output_tokens; None when the model has no price). A call
    has the model's `text`, its `document` when the text is a JSON object, `problems` when the document breaks the
    schema (or is no JSON), and what it cost; asking again for the same (summary, system, schema) returns the
    same answer without a second call."""

    summary_id: Identifier
    system: SystemName
    schema_version: str
    model_id: str
    estimate: bool
    input_tokens: int | None = None
    output_tokens: int | None = None
    max_output_tokens: int
    cost_usd: float | None = None
    text: str | None = None
    document: dict[str, Any] | None = None
    problems: list[str] = Field(default_factory=list)


class HeartbeatReply(Reply):
    """PUT EDGE_HEARTBEAT's answer; a new embedding model queues re-embedding of every summary."""

    embedding_version: EmbeddingVersion | None = None
    changed: bool
    reembed_request_id: str | None = None
