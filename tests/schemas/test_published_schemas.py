from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pydantic
import pytest

from schemas import publish
from schemas.publish import PUBLIC_CONTRACTS

REPO = Path(__file__).resolve().parents[2]


def test_published_schemas_are_in_sync_with_the_contracts():
    assert publish.stale_files() == [], "run `python -m schemas.publish` and commit schemas/json/"
    assert sorted(path.name for path in publish.JSON_DIR.glob("*.schema.json")) == sorted(
        f"{name}.schema.json" for name in PUBLIC_CONTRACTS
    )


def test_check_command_passes_on_the_repository():
    result = subprocess.run(
        [sys.executable, "-m", "schemas.publish", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_check_names_stale_and_missing_files(tmp_path, capsys):
    assert publish.main(["--dir", str(tmp_path)]) == 0
    capsys.readouterr()
    session_file = tmp_path / "Session.schema.json"
    edited = json.loads(session_file.read_text())
    edited["required"].remove("user_id")
    session_file.write_text(json.dumps(edited, indent=2, sort_keys=True) + "\n")
    (tmp_path / "ErrorBody.schema.json").unlink()

    assert publish.main(["--check", "--dir", str(tmp_path)]) == 1
    stderr = capsys.readouterr().err
    assert "Session.schema.json" in stderr and "ErrorBody.schema.json" in stderr
    assert "Turn.schema.json" not in stderr

    assert publish.main(["--dir", str(tmp_path)]) == 0
    assert publish.main(["--check", "--dir", str(tmp_path)]) == 0


def test_files_are_pretty_sorted_and_end_with_a_newline():
    text = (publish.JSON_DIR / "SummaryRecord.schema.json").read_text()
    assert text.endswith("}\n") and text.startswith("{\n  ")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_published_session_schema_validates_like_the_model():
    schema = json.loads((publish.JSON_DIR / "Session.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    good = {
        "session_id": "s-1",
        "source": "synapse",
        "user_id": "u-1",
        "started_at": "2025-01-01T09:00:00Z",
        "ended_at": "2025-01-01T09:10:00Z",
        "turns": [{"role": "user", "content": "hi"}],
    }
    assert list(validator.iter_errors(good)) == []
    assert list(validator.iter_errors({**good, "extra": 1}))
    assert list(validator.iter_errors({**good, "session_id": "bad id"}))
    assert list(validator.iter_errors({**good, "turns": []}))
    messages = {key: value for key, value in good.items() if key != "turns"} | {"messages": good["turns"]}
    assert list(validator.iter_errors(messages)) == []
    assert list(validator.iter_errors({**messages, "turns": good["turns"]}))
    assert list(validator.iter_errors({key: value for key, value in messages.items() if key != "messages"}))


LINEAGE = {
    "translator_model_version": "translator-model:m1",
    "translator_prompt_version": "translator-prompt:p1",
    "schema_version": "schema:s1",
}
STATE = {"version": 2, "updated_at": "2026-11-24T09:00:00.000Z", "document_hash": "a" * 64, **LINEAGE}
MODEL = "embedding-model:mini"
SESSION = {
    "session_id": "s-1",
    "source": "synapse",
    "user_id": "u-1",
    "started_at": "2025-01-01T09:00:00Z",
    "ended_at": "2025-01-01T09:10:00Z",
    "turns": [{"role": "user", "content": "hi"}],
}
STORED = {
    "session_id": "s-1",
    "source": "planner",
    "user_id": "u-1",
    "status": "SUMMARIZED",
    "content_hash": "b" * 64,
    "received_at": "2026-11-24T09:00:00.000Z",
    "received_day": "2026-11-24",
    "updated_at": "2026-11-24T09:00:01.000Z",
    "started_at": "2026-11-24T09:00:00+00:00",
    "raw_key": "sessions/s-1/b.json",
    "turn_count": 2,
    "attempts": 1,
    "systems": {"planner": STATE},
    "cost_usd": "0.0027",
}
CHANGE = {
    "seq": 7,
    "system": "planner",
    "summary_id": "s-1",
    "change": "updated",
    "version": 2,
    "changed_at": "2026-11-24T09:00:00.000Z",
    "author": "user",
    "lineage": LINEAGE,
    "document_hash": "c" * 64,
    "document": {"tasks": []},
}
# One valid body per contract, and one change that makes it invalid.
EXAMPLES: dict[str, tuple[dict, dict]] = {
    "EvalResult": (
        {
            "system": "planner",
            "split": "eval",
            "zero_shot": False,
            "translator_model_version": "translator-model:1",
            "translator_prompt_version": "translator-prompt:1",
            "schema_version": "schema:1",
            "examples": 1,
            "valid_rate": 1.0,
            "precision": 0.5,
            "recall": 1.0,
            "f1": 0.6667,
            "exact_date_accuracy": None,
            "dated_matches": 0,
            "empty_examples": 0,
            "invented_rate": None,
            "duplicate_items": 0,
            "duplicate_rate": 0.0,
            "duplicates_suppressed": 0,
            "duplicates_dropped": 0,
            "mean_seconds": 2.5,
            "tokens_per_second": 9.5,
            "scores": [
                {
                    "index": 0,
                    "valid": True,
                    "precision": 0.5,
                    "recall": 1.0,
                    "f1": 0.6667,
                    "seconds": 2.5,
                    "generated_tokens": 24,
                }
            ],
        },
        {"split": "test"},
    ),
    "Session": (SESSION, {"turns": []}),
    "Turn": ({"role": "tool", "content": "42"}, {"role": "robot"}),
    "SummaryRecord": (STORED, {"systems": {"planner": {**STATE, "version": 0}}}),
    "SummarizeRequest": ({"session_id": "s-1", "content_hash": "c" * 64}, {"content_hash": "C" * 64}),
    "TranslateRequest": ({"summary_id": "s-1", "reason": "new", "request_id": "new-1"}, {"reason": "because"}),
    "QueryEmbeddingRequest": ({"query_id": "q-1", "text": "dentist", "embedding_version": MODEL}, {"text": ""}),
    "RefreshSelector": ({"summary_id": "s-1", "system": "planner"}, {"system": "Planner"}),
    "ErrorBody": ({"error": "invalid_json", "message": "Not JSON."}, {"error": "Invalid JSON"}),
    "SessionAccepted": ({"session_id": "s-1", "status": "RECEIVED", "status_url": "/sessions/s-1"}, {"status": "LOST"}),
    "RecordUpload": ({"document": {}, "lineage": LINEAGE, "expected_version": 0}, {"expected_version": -1}),
    "RegistryUpload": ({"kind": "translator-model", "content": {}}, {"kind": "Translator Model"}),
    "EmbeddingUpload": ({"embedding_version": MODEL, "vector": [0.1, 0.2]}, {"vector": [0.1]}),
    "QueryEmbeddingUpload": ({"embedding_version": MODEL, "vector": [0.1, 0.2]}, {"embedding_version": "schema:x"}),
    "Heartbeat": ({"embedding_version": MODEL}, {"embedding_version": ""}),
    "EdgeSummary": (
        {"summary_id": "s-1", "source": "planner", "text": "Overview.", "systems": {"planner": STATE}},
        {"systems": {"planner": {**STATE, "schema_version": ""}}},
    ),
    "PendingPage": (
        {"items": [{"summary_id": "s-1", "systems": {}, "embedding_version": MODEL}], "next": None},
        {"items": [{"summary_id": "s 1", "systems": {}}]},
    ),
    "RecordStored": ({"outcome": "created", "version": 1}, {"outcome": "replaced"}),
    "SystemPublished": (
        {
            "name": "planner",
            "description": "d",
            "definition_version": "system:1",
            "schema_version": "schema:1",
            "changed": False,
        },
        {"changed": "maybe"},
    ),
    "RegistryStored": ({"version_id": "schema:1", "created": True}, {"created": None}),
    "EmbeddingStored": ({"summary_id": "s-1", "embedding_version": MODEL}, {"summary_id": ""}),
    "QueryEmbeddingStored": ({"query_id": "q-1", "embedding_version": MODEL}, {"query_id": "q 1"}),
    "HeartbeatReply": ({"embedding_version": MODEL, "changed": True, "reembed_request_id": "rf-1"}, {"changed": None}),
    "DistillRequest": ({"summary_id": "s-1", "system": "planner", "estimate": True}, {"system": "Planner!"}),
    "DistillAnswer": (
        {
            "summary_id": "s-1",
            "system": "planner",
            "schema_version": "schema:1",
            "model_id": "claude-haiku-4-5",
            "estimate": False,
            "input_tokens": 1500,
            "output_tokens": 120,
            "max_output_tokens": 2048,
            "cost_usd": 0.0021,
            "text": '{"tasks": []}',
            "document": {"tasks": []},
            "problems": [],
        },
        {"max_output_tokens": None},
    ),
    "RecordChange": (CHANGE, {"change": "renamed"}),
    "ChangePage": ({"items": [CHANGE], "next": "7", "more": False}, {"items": [{**CHANGE, "seq": 0}]}),
    "DeletionRequest": ({"task": "session", "session_id": "s-1"}, {"task": "user"}),
    "SessionDeletion": ({"session_id": "s-1", "status": "DELETING", "status_url": "/sessions/s-1"}, {"status": "GONE"}),
    "DeletionJob": (
        {
            "user_id": "u-1",
            "job_id": "del-1",
            "status": "running",
            "sessions_found": 3,
            "sessions_deleted": 1,
            "requested_at": "2026-11-24T09:00:00.000Z",
            "status_url": "/users/u-1/deletion",
        },
        {"sessions_deleted": -1},
    ),
    "ExportLink": (
        {
            "user_id": "u-1",
            "url": "https://example.com/a",
            "expires_at": "2026-11-24T09:15:00Z",
            "key": "exports/u-1/a.jsonl.gz",
            "sessions": 1,
            "records": 2,
            "history": 3,
            "bytes": 400,
        },
        {"bytes": "many"},
    ),
}


# Contracts that keep fields they do not name (a turn keeps them in its metadata) instead of refusing them.
OPEN_CONTRACTS = {"Turn"}


def test_every_public_contract_has_an_example():
    assert set(EXAMPLES) == set(PUBLIC_CONTRACTS)


# Answers the edge reads ignore fields a newer cloud adds; everything else refuses unknown fields.
REPLIES = {
    "EdgeSummary",
    "PendingPage",
    "RecordStored",
    "SystemPublished",
    "RegistryStored",
    "EmbeddingStored",
    "QueryEmbeddingStored",
    "HeartbeatReply",
    "DistillAnswer",
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_published_schemas_accept_and_refuse_what_the_models_do(name):
    schema = json.loads(publish.schema_path(name).read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    valid, change = EXAMPLES[name]
    model = PUBLIC_CONTRACTS[name]
    unknown_accepted = name in REPLIES or name in OPEN_CONTRACTS
    for document, accepted in (
        (valid, True),
        ({**valid, **change}, False),
        ({**valid, "unknown": 1}, unknown_accepted),
    ):
        assert (not list(validator.iter_errors(document))) is accepted, (name, document)
        try:
            model.model_validate(document)
            model_accepts = True
        except pydantic.ValidationError:
            model_accepts = False
        assert model_accepts is accepted, (name, document)


def test_a_reply_from_a_newer_cloud_with_fields_inside_its_system_states_is_still_read():
    newer = {**EXAMPLES["EdgeSummary"][0], "added_later": 1}
    newer["systems"] = {"planner": {**STATE, "reviewed_by": "someone"}}
    summary = PUBLIC_CONTRACTS["EdgeSummary"].model_validate(newer)
    assert summary.systems["planner"].version == 2 and not hasattr(summary, "added_later")
