"""The daemon translates a system with its adopted adapter: the stored record names it, the cloud registry holds
its translator-adapter entry, and a system without one is translated by the base model."""

from __future__ import annotations

import json

import mlx_lm
from edge_helpers import edge_busy, edge_worker
from stack_helpers import api_client, make_token, running_stack, session_body, wait_for_stack
from tiny_model import build_tiny_model

from edge_worker.model_store import ModelInfo, adopted_adapters, weights_digest
from edge_worker.translator import Translator
from edge_worker.tuning.train import TuneSettings
from edge_worker.tuning.tune import tune_system
from schemas.system_definition import SystemDefinition


def _system(name: str) -> dict:
    def example(text: str, title: str, split: str) -> dict:
        return {"summary": text, "expected": {"title": title}, "split": split}

    return {
        "name": name,
        "description": f"{name} test system",
        "instructions": "Write the title of the task.",
        "schema": {
            "type": "object",
            "properties": {"title": {"type": "string", "maxLength": 12}},
            "required": ["title"],
            "additionalProperties": False,
        },
        "examples": [
            example("The user booked flights.", "Book flights", "prompt"),
            example("The user planned a trip.", "Plan trip", "train"),
            example("The user reviewed tasks.", "Review tasks", "eval"),
        ],
        "max_output_tokens": 24,
    }


def test_the_daemon_translates_with_the_adopted_adapter(tmp_path, monkeypatch):
    monkeypatch.setenv("SSP_HOME", str(tmp_path / "home"))
    systems_dir = tmp_path / "systems"
    systems_dir.mkdir()
    for name in ("notes", "tasks"):
        (systems_dir / f"{name}.json").write_text(json.dumps(_system(name)))
    folder = build_tiny_model(tmp_path / "model")
    model, tokenizer = mlx_lm.load(str(folder))
    info = ModelInfo("tiny-random-llama", weights_digest(folder), folder)
    translator = Translator(model, tokenizer, info, max_tokens=16, adopted=adopted_adapters)
    notes = SystemDefinition.from_dict(_system("notes"))
    settings = TuneSettings(iters=2, rank=2, num_layers=1, learning_rate=1e-2, max_seq_length=2048)
    version = tune_system(translator, notes, settings, min_gain=-1.0).version
    assert adopted_adapters() == {"notes": version}

    with (
        running_stack() as stack,
        edge_worker(stack, translator, tmp_path / "edge", systems_dirs=[systems_dir]) as worker,
    ):
        ingest = api_client(stack, make_token(stack, ["ingest"], source="planner", name="ingest"))
        assert ingest.post("/sessions", json=session_body("tuned-1")).status_code == 202
        reader = api_client(stack, make_token(stack, ["read"], name="reader"))

        def translated():
            view = reader.get("/summaries/tuned-1").json()
            return view if len(view.get("records", [])) == 2 else None

        records = {
            record["system"]: record
            for record in wait_for_stack(stack, translated, busy=edge_busy(stack, worker), interval=1)["records"]
        }
        assert records["notes"]["translator_adapter_version"] == version
        assert "translator_adapter_version" not in records["tasks"]
        history = reader.get("/summaries/tuned-1/systems/notes/history").json()["items"]
        assert history[0]["translator_adapter_version"] == version
        entries = reader.get("/registry", params={"kind": "translator-adapter"}).json()["items"]
        assert [entry["version_id"] for entry in entries] == [version]
        assert entries[0]["content"]["base_model_version"] == translator.model_version
