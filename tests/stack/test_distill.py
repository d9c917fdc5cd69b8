"""Distillation end to end: the edge command prices the run through count_tokens, the cloud asks the model once
per (summary, system, schema) through the summarizer's provider (the real anthropic SDK against the local
Messages server), valid answers become training data, invalid ones are reported, and a repeat pays nothing."""

from __future__ import annotations

import json

from stack_helpers import api_client, make_token, running_stack, session_body, wait_for_stack

from edge_worker.api_client import EdgeApi
from edge_worker.cli import main
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
        assert missing.status_code == 404 and "not published" in missing.json()["message"]
        extra = edge.post("/edge/distill", json={"summary_id": "distill-1", "system": "planner", "pay": True})
        assert extra.status_code in (400, 422) and extra.json()["error"]
        assert backend.calls_matching(ASKED) == 2
