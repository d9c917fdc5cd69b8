"""Search on the local stack: lexical before any embedding, hybrid once the edge embeds, lexical when it goes away,
and a new embedding model re-embeds every summary through a refresh request."""

from __future__ import annotations

from edge_helpers import SlowTranslator, edge_worker
from stack_helpers import api_client, make_token, running_stack, session_body, wait_for

SESSIONS = {
    "dentist-a": "Book the dentist for Friday at nine, the tooth still hurts",
    "dentist-b": "Book the dentist for Friday at nine please, the tooth still hurts",
    "hiking": "Plan a hiking trip to the Alps in July with Sam and Lea",
    "groceries": "Buy groceries on the way home: milk, eggs, bread and coffee",
}


def _ids(answer: dict) -> list[str]:
    return [item["summary_id"] for item in answer["items"]]


def test_search_goes_lexical_then_hybrid_then_lexical_and_follows_the_embedding_model(tiny_translator, tmp_path):
    env = {"EDGE_ONLINE_SECONDS": "4", "SEARCH_EDGE_WAIT_SECONDS": "20"}
    with running_stack(extra_env=env) as stack:
        reader = api_client(stack, make_token(stack, ["read"], name="reader"))
        refresher = api_client(stack, make_token(stack, ["refresh"], name="refresher"))
        with api_client(stack, make_token(stack, ["ingest"], source="planner", name="ingest")) as client:
            for session_id, text in SESSIONS.items():
                assert client.post("/sessions", json=session_body(session_id, text=text)).status_code == 202

        def search(q: str, **params) -> dict:
            response = reader.get("/search", params={"q": q, **params})
            assert response.status_code == 200, response.text
            return response.json()

        indexed = wait_for(lambda: len(search("groceries hiking dentist")["items"]) == 4 or None, timeout=120)
        assert indexed
        lexical = search("dentist tooth")
        assert lexical["mode"] == "lexical" and lexical["semantic"] == {
            "used": False,
            "reason": "no summary has an embedding yet",
            "embedding_version": None,
        }
        assert set(_ids(lexical)[:2]) == {"dentist-a", "dentist-b"}
        assert _ids(reader.get("/summaries/dentist-a/similar").json())[0] == "dentist-b"

        with edge_worker(stack, tiny_translator, tmp_path / "edge", heartbeat_seconds=1) as worker:
            version = worker.search.version

            wait_for(
                lambda: all(reader.get(f"/summaries/{i}").json().get("embedding_version") == version for i in SESSIONS),
                timeout=240,
                interval=0.5,
            )

            def hybrid_similar():  # the index catches up with the stored vectors within a stream batch or two
                answer = reader.get("/summaries/dentist-a/similar", params={"k": 3}).json()
                return answer if all(item["semantic"] is not None for item in answer["items"]) else None

            similar = wait_for(hybrid_similar, timeout=60, interval=0.5)
            assert similar["mode"] == "hybrid"
            assert similar["semantic"] == {"used": True, "reason": None, "embedding_version": version}
            assert _ids(similar)[0] == "dentist-b"
            online = search("hiking in the Alps")
            assert online["mode"] == "hybrid" and online["semantic"]["used"], online
            assert _ids(online)[0] == "hiking"
            assert worker.status.queries_answered >= 1

        wait_for(lambda: search("eggs and coffee")["mode"] == "lexical", timeout=30, interval=1)
        offline = search("bread and milk")
        assert offline["mode"] == "lexical" and "offline" in offline["semantic"]["reason"]
        assert _ids(offline)[0] == "groceries"
        assert search("hiking in the Alps")["mode"] == "hybrid"  # the edge's earlier answer is kept

        # Another embedding model (last-token pooling): the heartbeat says so and every summary is re-embedded.
        with edge_worker(
            stack, tiny_translator, tmp_path / "edge-2", heartbeat_seconds=1, embedding_pooling="last"
        ) as worker:
            new_version = worker.search.version
            assert new_version != version
            request_id = wait_for(lambda: _reembed_request(refresher), timeout=60)
            done = wait_for(
                lambda: (r := refresher.get(f"/refresh/{request_id}").json())["status"] == "done" and r,
                timeout=240,
                interval=0.5,
            )
            assert done["selector"] == {"task": "embed"} and done["queued"] == done["completed"] == len(SESSIONS)
            again = wait_for(
                lambda: (
                    (a := reader.get("/summaries/dentist-a/similar").json())["semantic"]["embedding_version"]
                    == new_version
                    and a
                ),
                timeout=120,
                interval=0.5,
            )
            assert again["mode"] == "hybrid" and _ids(again)[0] == "dentist-b"
        reader.close()
        refresher.close()


def test_a_search_is_answered_between_the_tokens_of_a_long_translation(tiny_translator, tmp_path):
    slow = SlowTranslator(tiny_translator, delay_s=0.5)
    with running_stack(extra_env={"EDGE_ONLINE_SECONDS": "30", "SEARCH_EDGE_WAIT_SECONDS": "6"}) as stack:
        reader = api_client(stack, make_token(stack, ["read"], name="reader"))
        with api_client(stack, make_token(stack, ["ingest"], source="planner", name="ingest")) as client:
            assert client.post("/sessions", json=session_body("hiking", text=SESSIONS["hiking"])).status_code == 202
        with edge_worker(stack, slow, tmp_path / "edge", heartbeat_seconds=1) as worker:
            assert slow.started.wait(120), "the translation never started"
            wait_for(
                lambda: reader.get("/summaries/hiking/similar").json().get("mode") == "hybrid", timeout=60, interval=0.5
            )  # its vector is stored and indexed

            answer = reader.get("/search", params={"q": "a trip to the mountains"}).json()

            assert answer["mode"] == "hybrid" and answer["semantic"]["used"], answer
            wait_for(lambda: worker.status.queries_answered == 1, timeout=10)  # counted once its upload returns
            assert not reader.get("/summaries/hiking").json().get("records"), "the translation ended too soon"
            worker.stop(grace_s=0)
        reader.close()


def _reembed_request(client) -> str | None:
    """The re-embed request the heartbeat queued: the same selection again coalesces into it."""
    response = client.post("/refresh", json={"task": "embed"})
    return response.json()["request_id"] if response.status_code == 200 and response.json()["coalesced"] else None
