"""Distillation end to end: the edge command prices the run through count_tokens, the cloud asks the model once
per (summary, system, schema) through the summarizer's provider (the real anthropic SDK against the local
Messages server), valid answers become training data, invalid ones are reported, and a repeat pays nothing."""

from __future__ import annotations

import json

from stack_helpers import api_client, make_token, running_stack, session_body, wait_for_stack

from edge_worker.api_client import EdgeApi
from edge_worker.cli import main
from edge_worker.distill import forget_deleted
from edge_worker.tuning.data import distilled_path, training_examples
from local_stack.messages_server import ScriptedBackend
from local_stack.messages_server.backend import reply
from schemas.system_definition import load_systems

PLANNER = load_systems().systems["planner"]
ASKED = "The document must validate against this JSON Schema"  # in the distillation prompt only
VALID = PLANNER.examples_for("train")[0]["expected"]


def _status(client, session_id: str) -> str | None:
    return client.get(f"/sessions/{session_id}").json().get("status")


def _usage_calls(reader) -> int:
    models = reader.get("/usage").json()["models"]
    return sum(model["calls"] for model in models)


def test_distill_prices_first_keeps_valid_answers_and_never_pays_twice(tmp_path, monkeypatch, capsys):
    backend = ScriptedBackend()
    with running_stack(backend) as stack:
        ingest = api_client(stack, make_token(stack, ["ingest"], source="planner", name="ingest"))
        reader = api_client(stack, make_token(stack, ["read"], name="reader"))
        for number in (1, 2):
            assert ingest.post("/sessions", json=session_body(f"distill-{number}")).status_code == 202
        wait_for_stack(stack, lambda: all(_status(ingest, f"distill-{n}") == "SUMMARIZED" for n in (1, 2)))
        edge_token = make_token(stack, ["edge"], name="edge")
        EdgeApi(stack.api_url, edge_token).put_system("planner", PLANNER.to_dict())
        backend.script([reply(f"```json\n{json.dumps(VALID)}\n```"), reply('{"tasks": "not a list"}')], when=ASKED)
        monkeypatch.setenv("SSP_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("SSP_API_URL", stack.api_url)
        monkeypatch.setenv("SSP_API_TOKEN", edge_token)
        paid_before = _usage_calls(reader)

        # Asked before paying: a "no" (or no terminal, without --yes) makes no call.
        monkeypatch.setattr("sys.stdin.isatty", lambda: True)
        monkeypatch.setattr("builtins.input", lambda prompt: "n")
        assert main(["distill", "--system", "planner", "--count", "5"]) == 1
        assert "nothing asked, nothing paid" in capsys.readouterr().out
        monkeypatch.setattr("sys.stdin.isatty", lambda: False)
        assert main(["distill", "--system", "planner", "--count", "5"]) == 2
        assert "pass --yes" in capsys.readouterr().err
        assert backend.calls_matching(ASKED) == 0 and not distilled_path("planner").exists()

        assert main(["distill", "--system", "planner", "--count", "5", "--yes"]) == 0
        out = capsys.readouterr()
        assert "2 summaries," in out.out and "cost at most $0.0000" in out.out  # local models are free
        assert "kept 1, not kept 1" in out.out and "is not of type 'array'" in out.err
        assert backend.calls_matching(ASKED) == 2  # the estimate only counted tokens
        assert _usage_calls(reader) == paid_before + 2
        [row] = [json.loads(line) for line in distilled_path("planner").read_text().splitlines()]
        assert row["document"] == VALID and row["model"] == "local-scripted"
        assert row["schema_version"] == PLANNER.schema_version and row["text"].startswith("Scripted summary")
        examples, data = training_examples(PLANNER)
        assert data["distilled_examples"] == 1 and examples[-1]["expected"] == VALID

        # The invalid one is asked again: the cloud answers from its record, no call is made or paid.
        assert main(["distill", "--system", "planner", "--count", "5", "--yes"]) == 0
        assert "1 summaries," in capsys.readouterr().out
        assert backend.calls_matching(ASKED) == 2 and _usage_calls(reader) == paid_before + 2
        assert len(distilled_path("planner").read_text().splitlines()) == 1

        # Bad input: a clear 4xx naming the problem, and no call.
        edge = api_client(stack, edge_token)
        missing = edge.post("/edge/distill", json={"summary_id": "distill-1", "system": "nosuch"})
        assert missing.status_code == 404 and missing.json()["error"] == "unknown_system"
        extra = edge.post("/edge/distill", json={"summary_id": "distill-1", "system": "planner", "pay": True})
        assert extra.status_code in (400, 422) and extra.json()["error"]
        assert backend.calls_matching(ASKED) == 2


def test_deleting_a_session_or_a_user_removes_their_distilled_answers_in_the_cloud_and_on_the_edge(
    tmp_path, monkeypatch
):
    from functions.stores.idempotency import DistillIdempotency
    from functions.stores.sessions import SessionStore, distill_keys

    backend = ScriptedBackend()
    owners = {"gone-session": "user-a", "gone-user": "user-b", "kept": "user-c"}
    with running_stack(backend) as stack:
        client = api_client(stack, make_token(stack, ["ingest", "read", "delete"], source="planner", name="owner"))
        for session_id, user in owners.items():
            assert client.post("/sessions", json=session_body(session_id) | {"user_id": user}).status_code == 202
        wait_for_stack(stack, lambda: all(_status(client, s) == "SUMMARIZED" for s in owners))
        edge_token = make_token(stack, ["edge"], name="edge")
        edge = EdgeApi(stack.api_url, edge_token)
        edge.put_system("planner", PLANNER.to_dict())
        backend.script([reply(json.dumps(VALID))] * len(owners), when=ASKED)
        monkeypatch.setenv("SSP_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("SSP_API_URL", stack.api_url)
        monkeypatch.setenv("SSP_API_TOKEN", edge_token)
        assert main(["distill", "--system", "planner", "--count", "5", "--yes"]) == 0
        assert len(distilled_path("planner").read_text().splitlines()) == len(owners)

        dynamodb, table = stack.client("dynamodb"), stack.resolved("IdempotencyTable")
        layer = DistillIdempotency(table).layer
        with stack.aws_environment_applied():
            store = SessionStore(stack.resolved("SessionsTable"), stack.resolved("DataBucket"))
            items = {session_id: store.get(session_id) for session_id in owners}
        records = {
            s: [layer._get_hashed_idempotency_key(key) for key in distill_keys(item)] for s, item in items.items()
        }

        def stored(session_id: str) -> bool:
            [record_id] = records[session_id]
            return "Item" in dynamodb.get_item(TableName=table, Key={"id": {"S": record_id}})

        assert all(stored(s) for s in owners)

        assert client.delete("/sessions/gone-session").status_code == 202
        assert client.delete("/users/user-b").status_code == 202
        wait_for_stack(stack, lambda: client.get("/users/user-b/deletion").json()["status"] == "done")
        wait_for_stack(stack, lambda: client.get("/sessions/gone-session").status_code == 404)
        assert not stored("gone-session") and not stored("gone-user") and stored("kept")

        # The edge hears of it from the cloud: the deleted summaries answer 404, their rows are dropped.
        assert forget_deleted(edge) == {"planner": 2}
        rows = [json.loads(line) for line in distilled_path("planner").read_text().splitlines()]
        assert [row["summary_id"] for row in rows] == ["kept"]
        assert forget_deleted(edge, listed={"kept"}) == {}
        edge.close()
        client.close()
