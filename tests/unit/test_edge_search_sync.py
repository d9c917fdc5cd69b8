"""The edge's part in search: summary embeddings (kept while the API is away), query answers, the heartbeat."""

from __future__ import annotations

import json

import pytest
from edge_fakes import FakeApi, FakeEmbedder

from edge_worker.api_client import ApiRejected
from edge_worker.delivery import Delivery
from edge_worker.model_thread import ModelThread
from edge_worker.outbox import Outbox
from edge_worker.search_sync import SearchSync


@pytest.fixture
def parts(tmp_path):
    api, embedder, outbox, model, errors = FakeApi(), FakeEmbedder(), Outbox(tmp_path / "o.sqlite3"), ModelThread(), []
    api.add_summary("s1", "Book the dentist")
    yield api, embedder, outbox, SearchSync(api, embedder, Delivery(api, outbox), model, errors.append), errors
    model.close(timeout=5)
    outbox.close()


def test_a_summary_is_embedded_once_its_model_is_registered(parts):
    api, embedder, _, search, _ = parts
    assert search.needs_embedding(api.summary("s1"))
    assert search.embed_summary("s1", "Book the dentist", request_id="r1") is True
    assert api.summaries["s1"]["embedding_version"] == search.version == embedder.version
    assert not search.needs_embedding(api.summary("s1"))
    assert api.registry[search.version]["kind"] == "embedding-model"
    assert embedder.embedded == ["Book the dentist"]


def test_while_the_api_is_away_the_registry_entry_and_the_vector_wait_in_order(parts):
    api, _, outbox, search, _ = parts
    api.available = False
    assert search.embed_summary("s1", "Book the dentist") is False
    first, second = outbox.oldest(), None
    outbox.remove(first)
    second = outbox.oldest()
    assert first.path == f"/edge/registry/{search.version}" and second.path == "/edge/summaries/s1/embedding"
    assert second.body["embedding_version"] == search.version and len(second.body["vector"]) == 3


def test_a_query_is_answered_for_this_model_only(parts):
    api, embedder, _, search, _ = parts
    assert search.answer_query(json.dumps({"query_id": "q1", "text": "dentist", "embedding_version": search.version}))
    assert api.query_vectors["q1"]["embedding_version"] == search.version
    stale = {"query_id": "q2", "text": "dentist", "embedding_version": "embedding-model:older"}
    assert search.answer_query(json.dumps(stale)) is False
    assert "q2" not in api.query_vectors and embedder.embedded == ["dentist"]


def test_the_heartbeat_registers_the_model_once_and_reports_failures(parts):
    api, _, outbox, search, errors = parts
    search.heartbeat()
    search.heartbeat()
    assert api.heartbeats == [search.version] * 2
    assert [path for _, path in api.sent].count(f"/edge/registry/{search.version}") == 1
    api.available = False
    search.heartbeat()
    assert errors == ["heartbeat: PUT /edge/heartbeat: connection refused"] and outbox.size() == 0


def test_a_rejected_embedding_is_raised(parts):
    api, _, outbox, search, _ = parts
    api.rejections["/edge/summaries/s1/embedding"] = (422, "vector has the wrong length")
    with pytest.raises(ApiRejected, match="wrong length"):
        search.embed_summary("s1", "Book the dentist")
    assert outbox.size() == 0
