"""Turn stream records (summaries written, embeddings stored) into one conditional update of the search index."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aws_lambda_powertools import Logger

from functions.search.index import IndexedDocument, SearchIndex
from functions.stores.embeddings import EmbeddingStore
from functions.stores.index_file import IndexFile
from functions.stores.registry import RegistryStore
from functions.stores.sessions import DELETING, SUMMARIZED, SessionStore
from schemas.contracts import session_day

logger = Logger(child=True)


def _table_of(record: dict[str, Any]) -> str:
    """arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label> -> <name>."""
    return record.get("eventSourceARN", "").split(":table/", 1)[-1].split("/", 1)[0]


def _string(image: dict[str, Any], name: str) -> str | None:
    value = image.get(name)
    return value.get("S") if isinstance(value, dict) else None


def newly_summarized(record: dict[str, Any]) -> dict[str, str] | None:
    """The session fields the index needs, when this change is the one that made the session SUMMARIZED."""
    change = record.get("dynamodb", {})
    new, old = change.get("NewImage") or {}, change.get("OldImage") or {}
    if _string(new, "status") != SUMMARIZED or _string(old, "status") == SUMMARIZED:
        return None
    fields: dict[str, str] = {}
    for name in ("session_id", "source", "started_at", "summary_key"):
        value = _string(new, name)
        if not value:
            return None
        fields[name] = value
    return fields


def deleted(record: dict[str, Any]) -> str | None:
    """The id of a session this change removed or marked DELETING."""
    change = record.get("dynamodb", {})
    if record.get("eventName") == "REMOVE":
        return _string(change.get("Keys", {}), "session_id")
    if _string(change.get("NewImage") or {}, "status") == DELETING:
        return _string(change.get("NewImage") or {}, "session_id")
    return None


def changed_key(record: dict[str, Any]) -> str | None:
    if record.get("eventName") == "REMOVE":
        return None
    return _string(record.get("dynamodb", {}).get("Keys", {}), "summary_id")


class Indexer:
    def __init__(
        self, index_file: IndexFile, sessions: SessionStore, embeddings: EmbeddingStore, registry: RegistryStore
    ) -> None:
        self.index_file, self.sessions, self.embeddings, self.registry = index_file, sessions, embeddings, registry

    def apply(self, records: Iterable[dict[str, Any]]) -> SearchIndex | None:
        """Index the summaries that became SUMMARIZED and the vectors stored, and drop deleted sessions, in one
        write; None if nothing to do. A session deleted meanwhile is never (re)indexed."""
        summarized: list[dict[str, str]] = []
        embedded, removed = set(), set()
        for record in records:
            table = _table_of(record)
            if table == self.sessions.table_name and (fields := newly_summarized(record)):
                summarized.append(fields)
            elif table == self.sessions.table_name and (session_id := deleted(record)):
                removed.add(session_id)
            elif table == self.embeddings.table_name and (summary_id := changed_key(record)):
                embedded.add(summary_id)
        live = self._summarized({f["session_id"] for f in summarized} | embedded)
        documents = [self._document(fields) for fields in summarized if fields["session_id"] in live]
        vectors = self._active_vectors(embedded & live)
        documents += self._missing_documents({row[0] for row in vectors} - {d.summary_id for d in documents})
        if not documents and not vectors and not self._indexed(removed):
            return None
        added = {d.summary_id for d in documents} | {row[0] for row in vectors}

        def change(current: SearchIndex) -> SearchIndex:
            # Read again just before each write: a deletion marks the session first, then removes it from the index.
            gone = removed | (added - self._summarized(added))
            return current.with_documents(documents).with_vectors(vectors).without(gone)

        index = self.index_file.update(change)
        logger.info(
            "search index updated",
            documents=len(documents),
            vectors=len(vectors),
            removed=len(removed),
            rows=len(index),
            embedding_version=index.embedding_version,
        )
        return index

    def _missing_documents(self, summary_ids: set[str]) -> list[IndexedDocument]:
        """Summaries that get a vector but are not indexed yet (summarized before the index existed)."""
        if not summary_ids:
            return []
        current, _ = self.index_file.load()
        documents = []
        for summary_id in sorted(summary_ids):
            position = current.position(summary_id)
            if position is not None and current.has_document[position]:
                continue
            item = self.sessions.get(summary_id)
            if item and item.get("status") == SUMMARIZED and item.get("summary_key"):
                documents.append(self._document(item))
        return documents

    def _indexed(self, summary_ids: set[str]) -> bool:
        if not summary_ids:
            return False
        current, _ = self.index_file.load()
        return any(current.position(summary_id) is not None for summary_id in summary_ids)

    def _summarized(self, summary_ids: set[str]) -> set[str]:
        if not summary_ids:
            return set()
        return {sid for sid, status in self.sessions.statuses(summary_ids).items() if status == SUMMARIZED}

    def _document(self, session: Mapping[str, Any]) -> IndexedDocument:
        """A summarized session's index entry: its source, its own day (session_day) and its summary text."""
        return IndexedDocument(
            summary_id=session["session_id"],
            source=session["source"],
            day=session_day(session["started_at"]),
            text=self.sessions.summary_text(session["summary_key"]),
        )

    def _active_vectors(self, summary_ids: set[str]) -> list[tuple[str, str, Any]]:
        """Only vectors of the model the edge runs now: a late upload from an older model must not evict them."""
        if not summary_ids:
            return []
        active = (self.registry.active_embedding() or {}).get("embedding_version")
        found = self.embeddings.many(summary_ids)
        kept = [row for row in found if not active or row[1] == active]
        if len(kept) < len(found):
            logger.info("embeddings of an inactive model left out of the index", skipped=len(found) - len(kept))
        return kept
