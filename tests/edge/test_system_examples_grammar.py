"""The edge's grammar for each shipped schema, on the default model's tokenizer, accepts every labelled example
as the compact JSON the decoder writes, within the system's max_output_tokens, and rejects broken documents."""

from __future__ import annotations

import json

import llguidance
import pytest
from mlx_lm.utils import load_tokenizer

from edge_worker.constrained import compile_schema, grammar_tokenizer
from edge_worker.model_store import prepare_default_model
from schemas.system_definition import load_systems

SYSTEMS = load_systems().systems


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(prepare_default_model())


@pytest.fixture(scope="module")
def grammars(tokenizer):
    gtok = grammar_tokenizer(tokenizer)
    return gtok, {name: compile_schema(system.schema, gtok, system=name) for name, system in SYSTEMS.items()}


def _tokens(tokenizer, document) -> list[int]:
    return list(
        tokenizer.encode(json.dumps(document, ensure_ascii=False, separators=(",", ":")), add_special_tokens=False)
    )


def _accepts(grammars, name, tokens) -> bool:
    gtok, compiled = grammars
    matcher = llguidance.LLMatcher(gtok.ll_tokenizer, compiled[name])
    return bool(matcher.consume_tokens(tokens)) and not matcher.is_error() and matcher.is_accepting()


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_grammar_accepts_every_labelled_example_within_the_token_budget(tokenizer, grammars, name):
    definition = SYSTEMS[name]
    for index, example in enumerate(definition.examples):
        tokens = _tokens(tokenizer, example["expected"])
        assert len(tokens) < definition.max_output_tokens, f"{name} example {index}: {len(tokens)} tokens"
        assert _accepts(grammars, name, tokens), f"{name} example {index} is rejected by the grammar"


@pytest.mark.parametrize(
    ("name", "document"),
    [
        ("planner", {"tasks": [{"title": "x", "due": None, "priority": "urgent", "status": "todo"}], "events": []}),
        ("planner", {"tasks": [], "events": [{"title": "x", "start": "2025-06-10T08:30:00"}]}),
        (
            "planner",
            {"tasks": [{"title": "x", "due": "2025-02-29", "priority": "low", "status": "todo"}], "events": []},
        ),
        ("nudge", {"reminders": [{"text": "x", "trigger": {"every": "daily", "at_time": "25:00"}}], "habits": []}),
        ("synapse", {"insights": [], "topics": ["t"] * 9, "links": [], "open_questions": []}),
        ("synapse", {"insights": [], "topics": [], "links": [], "open_questions": [], "extra": 1}),
    ],
)
def test_grammar_rejects_documents_outside_the_schema(tokenizer, grammars, name, document):
    assert SYSTEMS[name].validation_errors(document) != []
    assert not _accepts(grammars, name, _tokens(tokenizer, document))
