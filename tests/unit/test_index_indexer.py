"""The Indexer over fakes: stream records of the sessions and embeddings tables become one index update."""

from __future__ import annotations

import pytest
from cloud_fakes import FakeEmbeddingStore, FakeIndexFile, FakeRegistryStore, FakeSessionStore, add_summarized

from functions.index.indexer import Indexer
from functions.search.index import IndexedDocument, SearchIndex

OLD, NEW = "embedding-model:old", "embedding-model:new"


def arn(table: str) -> str:
    return f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/2026-11-24T09:00:00.000"


def session_change(sessions: FakeSessionStore, session_id: str, old_status: str | None = "RECEIVED") -> dict:
    item = sessions.get(session_id)
    image = {name: {"S": str(item[name])} for name in ("session_id", "source", "started_at", "summary_key", "status")}
    old = {**image, "status": {"S": old_status}} if old_status else None
    return {
        "eventName": "MODIFY" if old else "INSERT",
        "eventSourceARN": arn(sessions.table_name),
        "dynamodb": {"Keys": {"session_id": image["session_id"]}, "NewImage": image, "OldImage": old},
    }


def embedding_change(summary_id: str, event: str = "INSERT") -> dict:
    return {
        "eventName": event,
        "eventSourceARN": arn(FakeEmbeddingStore.table_name),
        "dynamodb": {"Keys": {"summary_id": {"S": summary_id}}},
    }


class Parts:
    def __init__(self) -> None:
        self.sessions, self.embeddings, self.registry = FakeSessionStore(), FakeEmbeddingStore(), FakeRegistryStore()
        self.index_file = FakeIndexFile()
        self.indexer = Indexer(self.index_file, self.sessions, self.embeddings, self.registry)


@pytest.fixture
def parts() -> Parts:
    return Parts()


def test_a_newly_summarized_session_is_indexed_with_its_text(parts):
    sessions, index_file, indexer = parts.sessions, parts.index_file, parts.indexer
    add_summarized(sessions, "s-1", text="Dentist on Friday.")
    index = indexer.apply([session_change(sessions, "s-1")])
    assert index is not None and index.position("s-1") == 0 and index_file.writes == 1
    assert index.has_document[0] and str(index.sources[0]) == "planner"


def test_other_changes_write_nothing(parts):
    sessions, index_file, indexer = parts.sessions, parts.index_file, parts.indexer
    add_summarized(sessions, "s-1")
    again = session_change(sessions, "s-1", old_status="SUMMARIZED")  # e.g. a system record's state
    assert indexer.apply([again, embedding_change("s-1", "REMOVE")]) is None and index_file.writes == 0
    foreign = {**session_change(sessions, "s-1"), "eventSourceARN": arn("SomeOtherTable")}
    assert indexer.apply([foreign]) is None


def test_vectors_of_the_active_model_are_indexed_with_their_summary_backfilled(parts):
    sessions, embeddings, registry, indexer = parts.sessions, parts.embeddings, parts.registry, parts.indexer
    add_summarized(sessions, "s-1", text="Dentist on Friday.")  # summarized before the index existed
    registry.set_active_embedding({"embedding_version": NEW, "seen_at": 1})
    embeddings.put("s-1", NEW, [1.0, 0.0], "2026-11-24T09:00:00Z")
    index = indexer.apply([embedding_change("s-1")])
    position = index.position("s-1")
    assert index.embedding_version == NEW and index.has_vector[position] and index.has_document[position]


def test_a_late_vector_of_an_older_model_is_left_out(parts):
    embeddings, registry, index_file, indexer = parts.embeddings, parts.registry, parts.index_file, parts.indexer
    index_file.index = SearchIndex.empty().with_documents([IndexedDocument("s-1", "planner", None, "Dentist.")])
    registry.set_active_embedding({"embedding_version": NEW, "seen_at": 1})
    embeddings.put("s-1", OLD, [1.0, 0.0], "2026-11-24T09:00:00Z")
    assert indexer.apply([embedding_change("s-1")]) is None and index_file.writes == 0


def test_a_session_marked_for_deletion_leaves_the_index(parts):
    sessions, index_file, indexer = parts.sessions, parts.index_file, parts.indexer
    add_summarized(sessions, "s-1")
    add_summarized(sessions, "s-2")
    indexer.apply([session_change(sessions, "s-1"), session_change(sessions, "s-2")])
    sessions.items["s-1"]["status"] = "DELETING"
    indexer.apply([session_change(sessions, "s-1", old_status="SUMMARIZED")])
    assert index_file.index.position("s-1") is None and index_file.index.position("s-2") is not None
    writes = index_file.writes
    assert indexer.apply([session_change(sessions, "s-1", old_status="SUMMARIZED")]) is None
    assert index_file.writes == writes  # nothing to remove: no write


def test_a_session_deleted_before_its_index_write_is_not_indexed(parts, monkeypatch):
    sessions, index_file, indexer = parts.sessions, parts.index_file, parts.indexer
    add_summarized(sessions, "s-1")
    change = session_change(sessions, "s-1")
    real_update = index_file.update

    def deleted_first(apply):
        sessions.items["s-1"]["status"] = "DELETING"  # the deletion lands between the read and the write
        return real_update(apply)

    monkeypatch.setattr(index_file, "update", deleted_first)
    indexer.apply([change])
    assert index_file.index.position("s-1") is None
