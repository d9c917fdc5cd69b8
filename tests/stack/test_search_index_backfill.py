"""A summary that was summarized before the search index held it is indexed when its embedding arrives."""

from __future__ import annotations

from stack_helpers import api_client, make_token, running_stack, session_body, wait_for_stack

from schemas.lineage import content_version

MODEL = {
    "model_id": "backfill-embedder",
    "weights_digest": "1" * 64,
    "method": "hidden-state pooling",
    "pooling": "mean",
    "max_tokens": 512,
    "dims": 4,
}


def test_an_embedding_indexes_a_summary_the_index_never_saw():
    with running_stack() as stack:
        reader = api_client(stack, make_token(stack, ["read"], name="reader"))
        edge = api_client(stack, make_token(stack, ["edge"], name="edge"))
        with api_client(stack, make_token(stack, ["ingest"], source="planner", name="ingest")) as client:
            assert (
                client.post("/sessions", json=session_body("old-1", text="Renew the passport before May")).status_code
                == 202
            )
        wait_for_stack(stack, lambda: reader.get("/search", params={"q": "passport"}).json()["items"])
        s3, bucket = stack.client("s3"), stack.resolved("DataBucket")
        s3.delete_object(Bucket=bucket, Key="search/index.npz")  # as on a stack that had no search yet
        assert reader.get("/search", params={"q": "passport"}).json()["items"] == []

        version = content_version("embedding-model", MODEL)
        assert (
            edge.put(f"/edge/registry/{version}", json={"kind": "embedding-model", "content": MODEL}).status_code == 201
        )
        stored = edge.put(
            "/edge/summaries/old-1/embedding", json={"embedding_version": version, "vector": [0.1, 0.7, -0.2, 0.4]}
        )
        assert stored.status_code == 200, stored.text

        found = wait_for_stack(
            stack, lambda: (a := reader.get("/search", params={"q": "passport"}).json())["items"] and a
        )
        assert [item["summary_id"] for item in found["items"]] == ["old-1"]
        assert found["items"][0]["source"] == "planner" and found["items"][0]["day"]
        similar = reader.get("/summaries/old-1/similar").json()
        assert similar["semantic"]["embedding_version"] == version
        reader.close()
        edge.close()
