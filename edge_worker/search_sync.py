"""The edge's part in search: embed summaries and free-text queries, and report which model it embeds with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edge_worker.api_client import ApiRejected, ApiUnavailable
from edge_worker.delivery import Delivery, Upload
from edge_worker.logs import logger
from edge_worker.model_thread import ModelThread
from edge_worker.ports import CloudApi, EmbedderLike
from schemas.contracts import QueryEmbeddingRequest
from schemas.edge_api import EdgeSummary, EmbeddingUpload, Heartbeat, PendingSummary, QueryEmbeddingUpload


class SearchSync:
    """Embeddings run on the model thread (the embedder may share the translator's model); `on_error` reports."""

    def __init__(
        self,
        api: CloudApi,
        embedder: EmbedderLike,
        delivery: Delivery,
        model: ModelThread,
        on_error: Callable[[str], None],
    ) -> None:
        self.api, self.embedder, self.delivery, self.model, self.on_error = api, embedder, delivery, model, on_error

    @property
    def version(self) -> str:
        return self.embedder.version

    def _vector(self, text: str, urgent: bool = False) -> list[float]:
        return self.model.call(self.embedder.embed, text, urgent=urgent)

    def _registration(self) -> Upload:
        """The embedding model's registry entry (content-addressed, so sending it again changes nothing)."""
        return self.delivery.registry_entry(self.version, "embedding-model", self.embedder.registry_content())

    def needs_embedding(self, summary: EdgeSummary | PendingSummary) -> bool:
        return summary.embedding_version != self.version

    def embed_summary(self, summary_id: str, text: str, request_id: str | None = None) -> bool:
        """True once the cloud has the vector; False when it waits in the outbox. Raises ApiRejected."""
        upload = EmbeddingUpload(embedding_version=self.version, vector=self._vector(text), request_id=request_id)
        if not self.delivery.send(self._registration(), self.delivery.embedding(summary_id, upload)).delivered:
            logger.warning("API unreachable: embedding kept in the outbox", summary_id=summary_id)
            return False
        logger.info("embedded", summary_id=summary_id, embedding_version=self.version, refresh_request_id=request_id)
        return True

    def heartbeat(self, fields: dict[str, Any] | None = None) -> None:
        """Tell the cloud which model the edge embeds with (it queues re-embedding when that changed), with the
        other Heartbeat `fields` the worker reports (its translator model and progress)."""
        try:
            self.delivery.send(self._registration(), keep=False)
            answer = self.api.heartbeat(Heartbeat(embedding_version=self.version, **(fields or {})))
        except (ApiUnavailable, ApiRejected) as error:
            self.on_error(f"heartbeat: {error}")
            return
        if answer.reembed_request_id:
            logger.info("new embedding model: the cloud queued re-embedding", request_id=answer.reembed_request_id)

    def answer_query(self, body: str) -> bool:
        """One search query from the query queue: embed it and send the vector back; False for a stale request."""
        request = QueryEmbeddingRequest.model_validate_json(body)
        if request.embedding_version != self.version:
            logger.info("query for another embedding model dropped", query_id=request.query_id)
            return False
        vector = self._vector(request.text, urgent=True)
        self.api.put_query_embedding(
            request.query_id, QueryEmbeddingUpload(embedding_version=self.version, vector=vector)
        )
        return True
