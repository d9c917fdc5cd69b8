"""GET /search and GET /summaries/{id}/similar: hybrid ranking over the index, and how the query got its vector."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from functions.errors import ClientError
from functions.http.validation import shown
from functions.queues import QueryQueue
from functions.search import ranking
from functions.search.index import SearchIndex
from functions.search.snippets import snippet
from functions.search.text import terms
from functions.stores.embeddings import QueryEmbeddingStore, query_id
from functions.stores.index_file import IndexFile
from functions.stores.registry import RegistryStore
from functions.stores.sessions import SessionStore
from schemas import routes
from schemas.contracts import MAX_QUERY_CHARS, QueryEmbeddingRequest
from schemas.patterns import ID_PATTERN

MAX_K = 50
SESSION_PAGE = 100  # hits whose sessions are read together (BatchGetItem's limit)
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
        raise ClientError("invalid_k", f"k must be a whole number from 1 to {MAX_K}, got {shown(value)}")
    return int(value)


def parse_user(params: dict[str, str]) -> str | None:
    """The `user` filter (a user id), or None; 400 naming a malformed one."""
    user = params.get("user") or None
    if user is not None and not re.fullmatch(ID_PATTERN, user):
        raise ClientError("invalid_filter", f"user must match {ID_PATTERN}, got {shown(user)}")
    return user


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

    def search(self, text: str | None, k: int, filters: ranking.Filters, user: str | None = None) -> dict[str, Any]:
        """The k best matches for the words `text` (and its embedding when the edge gives one), each with its
        snippet, user_id and status; `user` keeps one user's sessions. Rows below the relevance cut-off (ranking:
        MIN_COSINE, SEMANTIC_MARGIN) are never returned, so a query nothing matches answers no items."""
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
        hits = ranking.search(index, query_terms, semantic.vector, len(index) if user else k, filters)
        return self._answer({"text": text}, hits, semantic, k, query_terms, user)

    def similar(self, summary_id: str, k: int, filters: ranking.Filters, user: str | None = None) -> dict[str, Any]:
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
        hits = ranking.similar(index, summary_id, len(index) if user else k, filters)
        row = index.position(summary_id)
        own_terms = [int(term) for term in index.row_terms(row)[0]] if row is not None else []
        return self._answer({"summary_id": summary_id}, hits, semantic, k, own_terms, user)

    def _answer(
        self,
        query: dict[str, Any],
        hits: list[Any],
        semantic: Semantic,
        k: int,
        query_terms: list[int],
        user: str | None,
    ) -> dict[str, Any]:
        """The first k hits that exist (and are `user`'s), read in pages of SESSION_PAGE, with their snippets."""
        items: list[dict[str, Any]] = []
        for start in range(0, len(hits), SESSION_PAGE):
            page = hits[start : start + SESSION_PAGE]
            facts = self.sessions.search_facts({hit.summary_id for hit in page})
            for hit in page:
                fact = facts.get(hit.summary_id)  # a session being deleted is left out until the index drops it
                if fact is None or (user and fact.get("user_id") != user):
                    continue
                items.append(
                    {
                        **hit.to_dict(),
                        "received_at": fact.get("received_at"),
                        "user_id": fact.get("user_id"),
                        "status": fact.get("status"),
                        "snippet": self._snippet(fact, query_terms),
                        "links": {"summary": routes.SUMMARY.format(summary_id=hit.summary_id)},
                    }
                )
                if len(items) == k:
                    break
            if len(items) == k:
                break
        return {
            "query": query,
            "mode": "hybrid" if semantic.vector is not None else "lexical",
            "semantic": semantic.view(),
            "k": k,
            "items": items,
        }

    def _snippet(self, fact: dict[str, Any], query_terms: list[int]) -> dict[str, Any] | None:
        key = fact.get("summary_key")
        return snippet(self.sessions.summary_text(key), query_terms) if key else None

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
