"""What the worker's services need from their clients: the cloud API, the queue, the models.

runtime.build_worker wires the real ones (EdgeApi, boto3's SQS client, Translator, Embedder); unit tests
pass in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from schemas.edge_api import (
    EdgeSummary,
    EmbeddingStored,
    EmbeddingUpload,
    Heartbeat,
    HeartbeatReply,
    PendingPage,
    QueryEmbeddingStored,
    QueryEmbeddingUpload,
    RecordStored,
    RecordUpload,
    RegistryStored,
    RegistryUpload,
    SystemPublished,
)


class CloudApi(Protocol):
    """The edge routes of the HTTP API (edge_worker.api_client.EdgeApi). Raises ApiUnavailable / ApiRejected."""

    def summary(self, summary_id: str, request_id: str | None = None) -> EdgeSummary: ...

    def pending_page(self, next_token: str | None = None, limit: int = 100) -> PendingPage: ...

    def put_record(self, summary_id: str, system: str, upload: RecordUpload) -> RecordStored: ...

    def put_registry(self, version_id: str, upload: RegistryUpload) -> RegistryStored: ...

    def put_system(self, name: str, definition: dict[str, Any]) -> SystemPublished: ...

    def put_embedding(self, summary_id: str, upload: EmbeddingUpload) -> EmbeddingStored: ...

    def put_query_embedding(self, query_id: str, upload: QueryEmbeddingUpload) -> QueryEmbeddingStored: ...

    def heartbeat(self, beat: Heartbeat) -> HeartbeatReply: ...

    def send(self, method: str, path: str, body: Any) -> Any: ...


class QueueClient(Protocol):
    """The part of boto3's SQS client the worker uses."""

    def receive_message(self, **kwargs: Any) -> dict[str, Any]: ...

    def change_message_visibility(self, **kwargs: Any) -> Any: ...

    def delete_message(self, **kwargs: Any) -> Any: ...

    def get_queue_attributes(self, **kwargs: Any) -> dict[str, Any]: ...


class SystemLike(Protocol):
    """A system definition as the translator reads it (schemas.system_definition.SystemDefinition)."""

    @property
    def name(self) -> str: ...

    @property
    def instructions(self) -> str: ...

    @property
    def schema(self) -> dict[str, Any]: ...

    @property
    def schema_version(self) -> str: ...

    @property
    def max_output_tokens(self) -> int: ...

    def reads_nothing(self, summary: str) -> bool: ...

    def schema_for(self, summary: str) -> dict[str, Any]: ...

    def parts_for(self, summary: str) -> list[Any]: ...

    def empty_document(self) -> dict[str, Any]: ...


class ModelInfoLike(Protocol):
    @property
    def model_id(self) -> str: ...

    @property
    def weights_digest(self) -> str: ...

    def registry_content(self) -> dict[str, Any]: ...


class TranslationLike(Protocol):
    """A Translation (with `document`) or a TranslationFailure (with `error`); both name their `system`."""

    @property
    def system(self) -> str: ...


class TranslatorLike(Protocol):
    """One summary into one JSON document per system (edge_worker.translator.Translator)."""

    @property
    def model_version(self) -> str: ...

    @property
    def model_info(self) -> ModelInfoLike: ...

    def adapter_versions(self, systems: Sequence[Any] = ()) -> Mapping[str, str]:
        """system name -> the LoRA adapter version applied to it (a system not named uses the base model); with
        `systems`, for exactly those."""
        ...

    def served(self, system: Any) -> Any:
        """The system as it is prompted (the prompt of its adapter): what its records' lineage names."""
        ...

    def translate(
        self, summary_id: str, summary_text: str, systems: Sequence[Any], *, checkpoint: Callable[[], bool] | None
    ) -> Sequence[TranslationLike]: ...

    def translate_many(
        self, jobs: Sequence[Any], *, checkpoint: Callable[[], bool] | None, batch_size: int | None
    ) -> Sequence[Sequence[TranslationLike]]:
        """Each job (summary_id, summary_text, systems) in order; its pairs decoded `batch_size` at a time."""
        ...


class EmbedderLike(Protocol):
    """Text into a search vector (edge_worker.embedder.Embedder)."""

    @property
    def version(self) -> str: ...

    def registry_content(self) -> dict[str, Any]: ...

    def embed(self, text: str) -> list[float]: ...
