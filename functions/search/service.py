"""GET /search and GET /summaries/{id}/similar: hybrid ranking over the index, and how the query got its vector."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from functions.errors import ClientError
from functions.queues import QueryQueue
from functions.search import ranking
from functions.search.index import SearchIndex
from functions.search.text import terms
from functions.stores.embeddings import QueryEmbeddingStore, query_id
from functions.stores.index_file import IndexFile
from functions.stores.registry import RegistryStore
from functions.stores.sessions import SessionStore
from schemas import routes
from schemas.contracts import MAX_QUERY_CHARS, QueryEmbeddingRequest

MAX_K = 50
POLL_SECONDS = 0.1


@dataclass
class Semantic:
    """Whether the ranking used embeddings, and if not, why."""

    vector: np.ndarray | None
    reason: str | None
    embedding_version: str | None

    def view(self) -> dict[str, Any]:
        return {"used": self.vector is not None, "reason": self.reason, "embedding_version": self.embedding_version}


def parse_k(value: str | None) -> int:
    if value in (None, ""):
        return 10
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_K:
        raise ClientError("invalid_k", f"k must be a whole number from 1 to {MAX_K}, got {value!r}")
    return int(value)


def parse_filters(params: dict[str, str]) -> ranking.Filters:
    try:
        return ranking.Filters.parse(params.get("source"), params.get("from"), params.get("to"))
    except ValueError as error:
        raise ClientError("invalid_filter", str(error)) from error


class SearchService:
    def __init__(
        self,
        index_file: IndexFile,
        query_embeddings: QueryEmbeddingStore,
        sessions: SessionStore,
        registry: RegistryStore,
        query_queue: QueryQueue,
        wait_seconds: float,
        online_seconds: int,
    ) -> None:
        self.index_file, self.query_embeddings, self.sessions = index_file, query_embeddings, sessions
        self.registry, self.query_queue = registry, query_queue
        self.wait_seconds, self.online_seconds = wait_seconds, online_seconds

    def search(self, text: str | None, k: int, filters: ranking.Filters) -> dict[str, Any]:
        text = (text or "").strip()
        if not text:
            raise ClientError("missing_query", "q is required: the words to search for")
        if len(text) > MAX_QUERY_CHARS:
            raise ClientError("query_too_long", f"q has {len(text)} characters; the limit is {MAX_QUERY_CHARS}")
        index, _ = self.index_file.load()
        query_terms = terms(text)
        semantic = self._query_vector(text, index)
        if not query_terms and semantic.vector is None:
            raise ClientError("no_searchable_words", "q has no searchable words (only stopwords or punctuation)")
        hits = ranking.search(index, query_terms, semantic.vector, k, filters)
        return self._answer({"text": text}, hits, semantic, k)

    def similar(self, summary_id: str, k: int, filters: ranking.Filters) -> dict[str, Any]:
        index, _ = self.index_file.load()
        position = index.position(summary_id)
        if position is None:
            self.sessions.summarized(summary_id)
            raise ClientError(
                "not_indexed_yet",
                f"{summary_id} is summarized but not in the search index yet; try again in a few seconds",
                status=409,
            )
        has_vector = bool(index.has_vector[position])
        semantic = Semantic(
            index.vectors[position] if has_vector else None,
            None if has_vector else "this summary has no embedding yet (the edge adds it)",
            index.embedding_version or None,
        )
        hits = ranking.similar(index, summary_id, k, filters)
        return self._answer({"summary_id": summary_id}, hits, semantic, k)

    def _answer(self, query: dict[str, Any], hits: list[Any], semantic: Semantic, k: int) -> dict[str, Any]:
        received = self.sessions.received_times({hit.summary_id for hit in hits})
        items = [
            {
                **hit.to_dict(),
                "received_at": received.get(hit.summary_id),
                "links": {"summary": routes.SUMMARY.format(summary_id=hit.summary_id)},
            }
            for hit in hits
            if hit.summary_id in received  # a session being deleted is left out until the index drops it
        ]
        return {
            "query": query,
            "mode": "hybrid" if semantic.vector is not None else "lexical",
            "semantic": semantic.view(),
            "k": k,
            "items": items,
        }

    def _query_vector(self, text: str, index: SearchIndex) -> Semantic:
        version = index.embedding_version or None
        if not version or not index.has_vector.any():
            return Semantic(None, "no summary has an embedding yet", version)
        edge = self.registry.active_embedding() or {}
        if edge.get("embedding_version") not in (None, version):
            return Semantic(None, f"summaries are being re-embedded for {edge['embedding_version']}", version)
        key = query_id(text, version)
        vector = self.query_embeddings.get(key)
        if vector is not None:
            return Semantic(vector, None, version)
        seen_at = int(edge.get("seen_at", 0))
        if time.time() - seen_at > self.online_seconds:
            last = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seen_at)) if seen_at else "never"
            return Semantic(None, f"the edge worker is offline (last seen {last}); lexical matching only", version)
        self.query_queue.send(QueryEmbeddingRequest(query_id=key, text=text, embedding_version=version))
        deadline = time.monotonic() + self.wait_seconds
        while time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            vector = self.query_embeddings.get(key)
            if vector is not None:
                return Semantic(vector, None, version)
        return Semantic(
            None,
            f"the edge did not embed the query within {self.wait_seconds:g} s; lexical matching "
            "only (the same search will use it once it arrives)",
            version,
        )
