"""EmbeddingSync over fakes: vectors are checked against their registered model; a new model re-embeds all."""

from __future__ import annotations

import pytest
from cloud_fakes import ApiWorld, add_summarized

from functions.errors import ClientError
from schemas.contracts import RefreshSelector
from schemas.edge_api import EmbeddingUpload, Heartbeat, QueryEmbeddingUpload, RegistryUpload
from schemas.lineage import content_version


def register(world: ApiWorld, model_id: str, dims: int = 3) -> str:
    entry = RegistryUpload(kind="embedding-model", content={"model_id": model_id, "dims": dims})
    version = content_version(entry.kind, entry.content)
    world.edge.put_registry(version, entry)
    return version


@pytest.fixture
def world() -> ApiWorld:
    world = ApiWorld()
    add_summarized(world.sessions, "s-1")
    return world


@pytest.mark.parametrize(
    ("summary_id", "vector", "version", "status", "code"),
    [
        ("s-none", [0.1, 0.2, 0.3], None, 404, "not_found"),
        ("s-1", [0.1, 0.2, 0.3], "embedding-model:unknown", 422, "unknown_embedding_version"),
        ("s-1", [0.1, 0.2], None, 422, "wrong_dimensions"),
        ("s-1", [0.0, 0.0, 0.0], None, 422, "invalid_vector"),
        ("s-1", [0.1, float("inf"), 0.3], None, 422, "invalid_vector"),
        ("s-1", [0.1, 1e39, 0.3], None, 422, "invalid_vector"),
    ],
)
def test_bad_vectors_are_refused_and_nothing_is_stored(world, summary_id, vector, version, status, code):
    version = version or register(world, "mini")
    with pytest.raises(ClientError) as error:
        world.embedding_sync.put_summary_embedding(
            summary_id, EmbeddingUpload(embedding_version=version, vector=vector)
        )
    assert (error.value.status, error.value.code) == (status, code)
    assert world.embeddings.items == {} and "embedding_version" not in world.sessions.get("s-1")


def test_a_summary_vector_is_stored_named_on_the_session_and_counted_for_its_request(world):
    version = register(world, "mini")
    _, request = world.refresh.request(RefreshSelector(task="embed"))
    stored = world.embedding_sync.put_summary_embedding(
        "s-1", EmbeddingUpload(embedding_version=version, vector=[0.1, 0.2, 0.3], request_id=request["request_id"])
    )
    assert stored.embedding_version == version
    (summary_id, stored_version, vector) = world.embeddings.many(["s-1", "s-2"])[0]
    assert (summary_id, stored_version) == ("s-1", version) and vector.tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert world.sessions.record("s-1").embedding_version == version
    assert world.refresh.get(request["request_id"])["status"] == "done"


def test_a_query_vector_is_kept_under_its_query_id(world):
    version = register(world, "mini")
    world.embedding_sync.put_query_embedding("q-1", QueryEmbeddingUpload(embedding_version=version, vector=[1, 0, 0]))
    assert world.query_embeddings.get("q-1").tolist() == [1.0, 0.0, 0.0]


def test_the_heartbeat_records_the_model_and_a_new_model_queues_re_embedding(world):
    first, second = register(world, "mini"), register(world, "larger", dims=4)
    with pytest.raises(ClientError) as error:
        world.embedding_sync.heartbeat(Heartbeat(embedding_version="embedding-model:unknown"))
    assert error.value.code == "unknown_embedding_version"
    assert world.embedding_sync.heartbeat(Heartbeat(embedding_version=first)).changed is False
    assert world.embedding_sync.heartbeat(Heartbeat(embedding_version=first)).changed is False
    assert world.edge_queue.sent == []
    reply = world.embedding_sync.heartbeat(Heartbeat(embedding_version=second))
    assert reply.changed and reply.reembed_request_id
    assert [(m.summary_id, m.task, m.request_id) for m in world.edge_queue.sent] == [
        ("s-1", "embed", reply.reembed_request_id)
    ]
    edge = world.registry.active_embedding()
    assert edge["embedding_version"] == second and edge["model_id"] == "larger" and edge["seen_at"] > 0
