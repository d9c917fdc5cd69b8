"""Sample sessions go from POST to stored, schema-valid JSON for every system, each with its lineage."""

from __future__ import annotations

from edge_helpers import edge_busy, edge_worker
from stack_helpers import api_client, make_token, running_stack, wait_for_stack

from local_stack.samples import sample_sessions
from schemas.system_definition import load_systems


def test_sample_sessions_flow_to_schema_valid_system_json(tiny_translator, tmp_path):
    systems = load_systems().systems
    with running_stack() as stack, edge_worker(stack, tiny_translator, tmp_path / "edge") as worker:
        reader = api_client(stack, make_token(stack, ["read"], name="reader"))
        for session in sample_sessions():
            token = make_token(stack, ["ingest"], source=session["source"], name=f"ingest-{session['source']}")
            with api_client(stack, token) as client:
                assert client.post("/sessions", json=session).status_code == 202

        def all_translated():
            views = [reader.get(f"/summaries/{s['session_id']}").json() for s in sample_sessions()]
            return views if all(len(v.get("records", [])) == len(systems) for v in views) else None

        views = wait_for_stack(stack, all_translated, busy=edge_busy(stack, worker), interval=1)
        registry_models = reader.get("/registry", params={"kind": "translator-model"}).json()["items"]
        assert [m["version_id"] for m in registry_models] == [tiny_translator.model_version]
        for view in views:
            assert view["status"] == "SUMMARIZED" and view["text"]
            for record in view["records"]:
                definition = systems[record["system"]]
                assert definition.validation_errors(record["document"]) == []
                assert record["schema_version"] == definition.schema_version
                assert record["translator_model_version"] == tiny_translator.model_version
                assert record["translator_prompt_version"].startswith("translator-prompt:")
                assert record["version"] == 1
                history = reader.get(f"/summaries/{view['session_id']}/systems/{record['system']}/history").json()
                assert [entry["version"] for entry in history["items"]] == [1]
        reader.close()
