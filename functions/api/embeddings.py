"""What the edge sends for search: summary and query embeddings, and its heartbeat (which embedding model it runs)."""

from __future__ import annotations

import math
import time
from typing import Any

from pydantic import Field

from functions.common.clock import utc_now
from functions.common.errors import ClientError
from functions.common.registry_store import RegistryStore
from functions.common.session_store import SessionStore
from functions.search.embedding_store import EmbeddingStore
from schemas.contracts import Contract

FLOAT32_MAX = 3.4028234663852886e38
VERSION = Field(min_length=1, max_length=200, pattern=r"^embedding-model:[A-Za-z0-9._-]{1,128}$")


class EmbeddingUpload(Contract):
    embedding_version: str = VERSION
    vector: list[float] = Field(min_length=2, max_length=8192)
    request_id: str | None = Field(default=None, max_length=128)


class QueryEmbeddingUpload(Contract):
    embedding_version: str = VERSION
    vector: list[float] = Field(min_length=2, max_length=8192)


class Heartbeat(Contract):
    embedding_version: str = VERSION


class EmbeddingSync:
    def __init__(self, sessions: SessionStore, registry: RegistryStore, embeddings: EmbeddingStore) -> None:
        self.sessions, self.registry, self.embeddings = sessions, registry, embeddings

    def _embedding_model(self, version: str) -> dict[str, Any]:
        entry = self.registry.get(version)
        if not entry or entry.get("kind") != "embedding-model":
            raise ClientError(
                "unknown_embedding_version",
                f"{version} is not in the registry; PUT /edge/registry/{version} first",
                status=422,
            )
        return entry

    def _checked_vector(self, version: str, vector: list[float]) -> None:
        dims = int(self._embedding_model(version)["content"].get("dims", 0))
        if len(vector) != dims:
            raise ClientError(
                "wrong_dimensions", f"{version} makes {dims}-dimensional vectors, got {len(vector)}", status=422
            )
        if not all(math.isfinite(x) and abs(x) <= FLOAT32_MAX for x in vector) or not any(vector):
            raise ClientError(
                "invalid_vector", "vector values must be finite float32 numbers, not all zeros", status=422
            )

    def put_summary_embedding(self, summary_id: str, upload: EmbeddingUpload) -> None:
        item = self.sessions.get(summary_id)
        if not item or item.get("status") != "SUMMARIZED":
            raise ClientError("not_found", f"no summarized session {summary_id}", status=404)
        self._checked_vector(upload.embedding_version, upload.vector)
        self.embeddings.put(summary_id, upload.embedding_version, upload.vector, utc_now())
        self.sessions.set_embedding_version(summary_id, upload.embedding_version)

    def put_query_embedding(self, query_id: str, upload: QueryEmbeddingUpload) -> None:
        self._checked_vector(upload.embedding_version, upload.vector)
        self.embeddings.put_query(query_id, upload.embedding_version, upload.vector)

    def heartbeat(self, beat: Heartbeat) -> dict[str, Any]:
        """Record the edge as online; `changed` when it now runs another embedding model than before."""
        entry = self._embedding_model(beat.embedding_version)
        previous = self.registry.active_embedding()
        self.registry.set_active_embedding(
            {
                "embedding_version": beat.embedding_version,
                "seen_at": int(time.time()),
                "model_id": entry["content"].get("model_id", ""),
            }
        )
        changed = bool(previous) and previous.get("embedding_version") != beat.embedding_version
        return {"embedding_version": beat.embedding_version, "changed": changed}
