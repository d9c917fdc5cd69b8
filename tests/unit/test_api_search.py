"""SearchService over fakes: lexical or hybrid ranking, and how a free-text query gets its vector from the edge."""

from __future__ import annotations

import time

import pytest
from cloud_fakes import ApiWorld, add_summarized

from functions.errors import ClientError
from functions.search.index import IndexedDocument, SearchIndex
from functions.search.ranking import Filters
from functions.stores.embeddings import query_id
from schemas.contracts import QueryEmbeddingRequest

MODEL = "embedding-model:mini"
TEXTS = {
    "s-1": "Overview: a dentist appointment on Friday morning.",
    "s-2": "Overview: water and stretch reminders every hour.",
    "s-3": "Overview: the dentist called back about the appointment.",
}
VECTORS = {"s-1": [1.0, 0.0, 0.0], "s-2": [0.0, 1.0, 0.0], "s-3": [0.9, 0.1, 0.0]}
EVERYTHING = Filters.parse(None, None, None)


def indexed(with_vectors: bool) -> SearchIndex:
    documents = [IndexedDocument(sid, "planner", "2026-11-24", text) for sid, text in TEXTS.items()]
    index = SearchIndex.empty().with_documents(documents)
    return index.with_vectors([(sid, MODEL, v) for sid, v in VECTORS.items()]) if with_vectors else index


def world_with(index: SearchIndex, edge_seen_s_ago: float | None = None, wait_seconds: float = 0.5) -> ApiWorld:
    world = ApiWorld(wait_seconds=wait_seconds, online_seconds=60)
    world.index_file.index = index
    for summary_id, text in TEXTS.items():
        add_summarized(world.sessions, summary_id, text=text)
    if edge_seen_s_ago is not None:
        world.registry.set_active_embedding(
            {"embedding_version": MODEL, "seen_at": int(time.time() - edge_seen_s_ago), "model_id": "mini"}
        )
    return world


def hit_ids(answer: dict) -> list[str]:
    return [item["summary_id"] for item in answer["items"]]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (None, "missing_query"),
        ("   ", "missing_query"),
        ("x" * 1001, "query_too_long"),
        ("the of", "no_searchable_words"),
    ],
)
def test_unusable_queries_are_named(text, code):
    with pytest.raises(ClientError) as error:
        world_with(indexed(False)).search.search(text, 5, EVERYTHING)
    assert (error.value.status, error.value.code) == (400, code)


def test_without_vectors_the_ranking_is_lexical_and_hits_link_their_summary():
    world = world_with(indexed(False))
    answer = world.search.search("dentist appointment", 5, EVERYTHING)
    assert answer["mode"] == "lexical" and answer["semantic"]["reason"] == "no summary has an embedding yet"
    assert set(hit_ids(answer)) == {"s-1", "s-3"}
    first = answer["items"][0]
    assert first["links"] == {"summary": f"/summaries/{first['summary_id']}"}
    assert first["received_at"] == world.sessions.get(first["summary_id"])["received_at"]


def test_an_offline_edge_is_not_asked():
    world = world_with(indexed(True), edge_seen_s_ago=3600)
    answer = world.search.search("dentist", 5, EVERYTHING)
    assert answer["mode"] == "lexical" and "offline" in answer["semantic"]["reason"]
    assert world.query_queue.sent == []


def test_a_query_embedded_before_is_used_without_asking_again():
    world = world_with(indexed(True), edge_seen_s_ago=1)
    world.query_embeddings.put(query_id("Dentist  appointment", MODEL), MODEL, [1.0, 0.0, 0.0])
    answer = world.search.search("dentist appointment", 5, EVERYTHING)
    assert answer["mode"] == "hybrid" and answer["semantic"]["used"] and world.query_queue.sent == []
    assert hit_ids(answer)[0] == "s-1"


def test_an_online_edge_embeds_the_query_while_the_search_waits():
    world = world_with(indexed(True), edge_seen_s_ago=1, wait_seconds=5)

    def edge(request: QueryEmbeddingRequest) -> None:
        world.query_embeddings.put(request.query_id, request.embedding_version, [0.0, 1.0, 0.0])

    world.query_queue.edge = edge
    answer = world.search.search("reminders", 5, EVERYTHING)
    assert world.query_queue.sent == [
        QueryEmbeddingRequest(query_id=query_id("reminders", MODEL), text="reminders", embedding_version=MODEL)
    ]
    assert answer["mode"] == "hybrid" and hit_ids(answer)[0] == "s-2"


def test_an_edge_that_does_not_answer_in_time_leaves_the_search_lexical():
    world = world_with(indexed(True), edge_seen_s_ago=1, wait_seconds=0.2)
    answer = world.search.search("dentist", 5, EVERYTHING)
    assert len(world.query_queue.sent) == 1
    assert answer["mode"] == "lexical" and "did not embed the query" in answer["semantic"]["reason"]


def test_while_summaries_are_re_embedded_the_ranking_stays_lexical():
    world = world_with(indexed(True), edge_seen_s_ago=1)
    world.registry.set_active_embedding({"embedding_version": "embedding-model:next", "seen_at": int(time.time())})
    answer = world.search.search("dentist", 5, EVERYTHING)
    assert answer["mode"] == "lexical" and "re-embedded" in answer["semantic"]["reason"]


def test_similar_summaries():
    world = world_with(indexed(True))
    answer = world.search.similar("s-1", 5, EVERYTHING)
    assert hit_ids(answer)[0] == "s-3" and "s-1" not in hit_ids(answer) and answer["mode"] == "hybrid"
    add_summarized(world.sessions, "s-4")
    for summary_id, status, code in (("s-4", 409, "not_indexed_yet"), ("s-none", 404, "not_found")):
        with pytest.raises(ClientError) as error:
            world.search.similar(summary_id, 5, EVERYTHING)
        assert (error.value.status, error.value.code) == (status, code)


def test_a_session_being_deleted_is_left_out_of_the_answers():
    from cloud_fakes import ApiWorld, add_summarized

    from functions.search.index import IndexedDocument, SearchIndex
    from functions.search.service import parse_filters

    world = ApiWorld()
    for session_id in ("s-keep", "s-gone"):
        add_summarized(world.sessions, session_id)
    docs = [IndexedDocument(sid, "planner", None, "The dentist on Friday.") for sid in ("s-keep", "s-gone")]
    world.index_file.index = SearchIndex.empty().with_documents(docs)
    world.sessions.items["s-gone"]["status"] = "DELETING"
    answer = world.search.search("dentist", 10, parse_filters({}))
    assert [item["summary_id"] for item in answer["items"]] == ["s-keep"]


def test_a_query_nothing_matches_answers_no_items_even_with_an_embedding():
    world = world_with(indexed(True), edge_seen_s_ago=1)
    world.query_embeddings.put(query_id("blorft qwxz", MODEL), MODEL, [0.3, 0.3, 0.9])  # far from every summary
    answer = world.search.search("blorft qwxz", 5, EVERYTHING)
    assert answer["mode"] == "hybrid" and answer["items"] == []


def test_every_item_has_a_snippet_with_code_point_highlights_its_user_and_status():
    world = world_with(indexed(False))
    answer = world.search.search("dentists", 5, EVERYTHING)
    item = next(i for i in answer["items"] if i["summary_id"] == "s-3")
    assert item["snippet"]["text"] == "Overview: the dentist called back about the appointment."
    assert [item["snippet"]["text"][a:b] for a, b in item["snippet"]["highlights"]] == ["dentist"]
    assert (item["user_id"], item["status"]) == ("user-1", "SUMMARIZED")


def test_the_user_filter_keeps_one_users_sessions_and_still_fills_k():
    world = world_with(indexed(False))
    world.sessions.items["s-1"]["user_id"] = "user-2"
    assert hit_ids(world.search.search("dentist", 1, EVERYTHING, user="user-2")) == ["s-1"]
    assert hit_ids(world.search.search("dentist", 5, EVERYTHING, user="user-1")) == ["s-3"]
    assert world.search.similar("s-3", 5, EVERYTHING, user="user-3")["items"] == []


def test_a_malformed_user_filter_is_named():
    from functions.search.service import parse_user

    with pytest.raises(ClientError) as error:
        parse_user({"user": "a b"})
    assert (error.value.status, error.value.code) == (400, "invalid_filter")
