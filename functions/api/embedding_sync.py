"""What the edge sends for search: summary and query embeddings, and its heartbeat (which embedding model it
runs; a new model queues re-embedding of every summary)."""

from __future__ import annotations

import math
from typing import Any

from aws_lambda_powertools import Logger

from functions.api.refresh import RefreshService
from functions.clock import epoch_seconds, utc_now
from functions.errors import ClientError, not_found
from functions.stores.embeddings import EmbeddingStore, QueryEmbeddingStore
from functions.stores.registry import RegistryStore
from functions.stores.sessions import SessionStore
from schemas import routes
from schemas.contracts import RefreshSelector
from schemas.edge_api import (
    EmbeddingStored,
    EmbeddingUpload,
    Heartbeat,
    HeartbeatReply,
    QueryEmbeddingStored,
    QueryEmbeddingUpload,
)

FLOAT32_MAX = 3.4028234663852886e38
EMBEDDING_MODEL_KIND = "embedding-model"

logger = Logger(child=True)


class EmbeddingSync:
    def __init__(
        self,
        sessions: SessionStore,
        registry: RegistryStore,
        embeddings: EmbeddingStore,
        query_embeddings: QueryEmbeddingStore,
        refresh: RefreshService,
    ) -> None:
        self.sessions, self.registry, self.refresh = sessions, registry, refresh
        self.embeddings, self.query_embeddings = embeddings, query_embeddings

    def _embedding_model(self, version: str) -> dict[str, Any]:
        entry = self.registry.entry(version, EMBEDDING_MODEL_KIND)
        if not entry:
            raise ClientError(
                "unknown_embedding_version",
                f"{version} is not in the registry; PUT {routes.EDGE_REGISTRY.format(version_id=version)} first",
                status=422,
            )
        return entry

    def _check_vector(self, version: str, vector: list[float]) -> None:
        dims = int(self._embedding_model(version)["content"].get("dims", 0))
        if len(vector) != dims:
            raise ClientError(
                "wrong_dimensions", f"{version} makes {dims}-dimensional vectors, got {len(vector)}", status=422
            )
        if not all(math.isfinite(x) and abs(x) <= FLOAT32_MAX for x in vector) or not any(vector):
            raise ClientError(
                "invalid_vector", "vector values must be finite float32 numbers, not all zeros", status=422
            )

    def put_summary_embedding(self, summary_id: str, upload: EmbeddingUpload) -> EmbeddingStored:
        """Store a summarized session's vector (404 otherwise; 422 for an unknown model or a bad vector)."""
        self.sessions.summarized(summary_id)
        self._check_vector(upload.embedding_version, upload.vector)
        update = self.sessions.embedding_version_update(summary_id, upload.embedding_version)
        if not self.embeddings.put_for_summary(summary_id, upload.embedding_version, upload.vector, utc_now(), update):
            raise not_found(f"no summarized session {summary_id}")  # deleted meanwhile
        self.refresh.complete(summary_id, "embed", upload.request_id)
        return EmbeddingStored(summary_id=summary_id, embedding_version=upload.embedding_version)

    def put_query_embedding(self, query_id: str, upload: QueryEmbeddingUpload) -> QueryEmbeddingStored:
        self._check_vector(upload.embedding_version, upload.vector)
        self.query_embeddings.put(query_id, upload.embedding_version, upload.vector)
        return QueryEmbeddingStored(query_id=query_id, embedding_version=upload.embedding_version)

    def heartbeat(self, beat: Heartbeat) -> HeartbeatReply:
        """Record the edge as online; when it now runs another embedding model, queue re-embedding.

        Raises ValueError for a beat without an embedding model (the route answers those itself)."""
        if not beat.embedding_version:
            raise ValueError("a heartbeat without an embedding model")
        entry = self._embedding_model(beat.embedding_version)
        previous = self.registry.active_embedding()
        self.registry.set_active_embedding(
            {
                "embedding_version": beat.embedding_version,
                "seen_at": epoch_seconds(),
                "model_id": entry["content"].get("model_id", ""),
            }
        )
        if previous is None or previous.get("embedding_version") == beat.embedding_version:
            return HeartbeatReply(embedding_version=beat.embedding_version, changed=False)
        _, request = self.refresh.request(RefreshSelector(task="embed"))
        logger.info(
            "embedding model changed: re-embedding queued",
            embedding_version=beat.embedding_version,
            request_id=request["request_id"],
        )
        return HeartbeatReply(
            embedding_version=beat.embedding_version, changed=True, reembed_request_id=request["request_id"]
        )
