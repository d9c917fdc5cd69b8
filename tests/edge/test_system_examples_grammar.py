"""The llguidance grammar of each shipped schema accepts the labelled examples and rejects broken ones."""

from __future__ import annotations

import json

import llguidance
import llguidance.hf
import pytest

from schemas.system_definition import load_systems

SYSTEMS = load_systems().systems


@pytest.fixture(scope="module")
def grammar_tokenizer(tiny_model):
    return llguidance.hf.from_tokenizer(tiny_model.tokenizer._tokenizer)


def _accepts(tiny_model, grammar_tokenizer, schema, document) -> bool:
    matcher = llguidance.LLMatcher(grammar_tokenizer, llguidance.LLMatcher.grammar_from_json_schema(schema))
    consumed = matcher.consume_tokens(tiny_model.tokenizer.encode(json.dumps(document, ensure_ascii=False)))
    return bool(consumed) and not matcher.is_error() and matcher.is_accepting()


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_grammar_accepts_every_labelled_example(tiny_model, grammar_tokenizer, name):
    definition = SYSTEMS[name]
    for example in definition.examples:
        assert _accepts(tiny_model, grammar_tokenizer, definition.schema, example["expected"])


@pytest.mark.parametrize(
    ("name", "document"),
    [
        ("planner", {"tasks": [{"title": "x", "due": None, "priority": "urgent", "status": "todo"}], "events": []}),
        ("planner", {"tasks": [], "events": [{"title": "x", "start": "2025-06-10T08:30:00"}]}),
        ("nudge", {"reminders": [{"text": "x", "trigger": {"every": "daily", "at_time": "25:00"}}], "habits": []}),
        ("synapse", {"insights": [], "topics": ["t"] * 9, "links": [], "open_questions": []}),
        ("synapse", {"insights": [], "topics": [], "links": [], "open_questions": [], "extra": 1}),
    ],
)
def test_grammar_rejects_documents_outside_the_schema(tiny_model, grammar_tokenizer, name, document):
    assert SYSTEMS[name].validation_errors(document) != []
    assert not _accepts(tiny_model, grammar_tokenizer, SYSTEMS[name].schema, document)
