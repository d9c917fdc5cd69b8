"""Client JSON with any JSON number goes through every write path and comes back as it was sent: fractions,
exponents and integers beyond a double's precision. A number DynamoDB cannot hold is a 422 that stores nothing."""

from __future__ import annotations

import copy

import pytest
from stack_helpers import api_client, make_token, running_stack, session_body, wait_for_stack

from schemas.lineage import content_version

BIG = 123456789012345678901234567890  # 30 digits: exact in DynamoDB, not in a double
NUMBERS = {"confidence": 0.6, "tiny": 1e-7, "big": BIG, "negative": -2.5e-3, "whole": 42}
DEFINITION = {
    "name": "scores",
    "description": "Confidence scores for what the session decided.",
    "instructions": "Score how sure the summary is about each decision, between 0 and 1 in steps of 0.05.",
    "schema": {
        "type": "object",
        "additionalProperties": False,
        "required": ["confidence"],
        "properties": {
            "confidence": {"type": "number", "minimum": 0, "maximum": 1, "multipleOf": 0.05},
            "tiny": {"type": "number", "exclusiveMinimum": 1e-9},
            "big": {"type": "integer"},
            "negative": {"type": "number"},
            "whole": {"type": "integer"},
        },
    },
    "examples": [{"summary": "The user decided to move on 2025-03-14.", "expected": NUMBERS}],
    "max_output_tokens": 64,
}


@pytest.fixture(scope="module")
def stack():
    with running_stack() as running:
        yield running


@pytest.fixture(scope="module")
def clients(stack):
    tokens = {
        scope: make_token(stack, [scope], source="planner" if scope == "ingest" else None, name=scope)
        for scope in ("ingest", "read", "edge", "refresh")
    }
    made = {scope: api_client(stack, token) for scope, token in tokens.items()}
    yield made
    for client in made.values():
        client.close()


def test_an_example_with_a_fraction_is_published(clients):
    definition = copy.deepcopy(DEFINITION)
    definition["name"] = "fractions"
    del definition["schema"]["properties"]["confidence"]["multipleOf"]
    published = clients["edge"].put("/edge/systems/fractions", json=definition)
    assert published.status_code == 200, published.text


def test_a_system_definition_with_fractions_is_published_and_read_back_unchanged(clients):
    published = clients["edge"].put("/edge/systems/scores", json=DEFINITION)
    assert published.status_code == 200, published.text
    entries = clients["read"].get("/registry", params={"kind": "system"}).json()["items"]
    [stored] = [entry for entry in entries if entry["version_id"] == published.json()["definition_version"]]
    assert stored["content"] == DEFINITION and stored["content"]["examples"][0]["expected"]["big"] == BIG
    [schema] = [
        entry
        for entry in clients["read"].get("/registry", params={"kind": "schema"}).json()["items"]
        if entry["version_id"] == published.json()["schema_version"]
    ]
    assert schema["content"]["properties"]["confidence"]["multipleOf"] == 0.05
    assert content_version("system", stored["content"]) == stored["version_id"]


def test_a_record_with_numbers_is_validated_by_its_schema_and_stored_unchanged(stack, clients):
    session = {**session_body("numbers-1"), "metadata": {"mood_score": 0.6, "device_id": BIG, "gain": 1e-7}}
    assert clients["ingest"].post("/sessions", json=session).status_code == 202
    wait_for_stack(stack, lambda: clients["read"].get("/sessions/numbers-1").json()["status"] == "SUMMARIZED")
    published = clients["edge"].put("/edge/systems/scores", json=DEFINITION).json()
    upload = {
        "document": NUMBERS,
        "expected_version": 0,
        "lineage": {
            "translator_model_version": "translator-model:m",
            "translator_prompt_version": "translator-prompt:p",
            "schema_version": published["schema_version"],
        },
    }
    stored = clients["edge"].put("/edge/summaries/numbers-1/systems/scores", json=upload)
    assert stored.status_code == 201, stored.text
    off_grid = clients["edge"].put(
        "/edge/summaries/numbers-1/systems/scores",
        json={**upload, "expected_version": 1, "document": {**NUMBERS, "confidence": 0.61}},
    )
    assert off_grid.status_code == 422 and off_grid.json()["error"] == "schema_violation", off_grid.text
    [record] = clients["read"].get("/summaries/numbers-1").json()["records"]
    assert record["document"] == NUMBERS
    refresh = clients["refresh"].post("/refresh", json={"summary_id": "numbers-1", "system": "scores"})
    assert refresh.status_code == 202, refresh.text
    assert clients["refresh"].get(f"/refresh/{refresh.json()['request_id']}").json()["queued"] == 1


def test_registry_entries_with_any_storable_number_round_trip(clients):
    content = {"f1": 0.6, "loss": 1e-7, "examples": BIG, "ratio": 2.5, "scores": [0.1, 0.2, 0.30000000000000004]}
    version = content_version("eval-result", content)
    stored = clients["edge"].put(f"/edge/registry/{version}", json={"kind": "eval-result", "content": content})
    assert stored.status_code == 201, stored.text
    entries = clients["read"].get("/registry", params={"kind": "eval-result"}).json()["items"]
    assert [entry["content"] for entry in entries if entry["version_id"] == version] == [content]


@pytest.mark.parametrize(
    "number",
    [10**40 + 1, 1e300, 1e-200],
    ids=["41 significant digits", "beyond DynamoDB's largest", "below DynamoDB's smallest"],
)
def test_a_number_dynamodb_cannot_hold_is_refused_naming_it(clients, number):
    definition = copy.deepcopy(DEFINITION)
    definition["name"] = "unstorable"
    definition["schema"]["properties"]["extra"] = {"type": "number", "default": number}
    response = clients["edge"].put("/edge/systems/unstorable", json=definition)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "unstorable_number" and "38 significant digits" in response.json()["message"]
    assert not [s for s in clients["read"].get("/systems").json()["items"] if s["name"] == "unstorable"]
