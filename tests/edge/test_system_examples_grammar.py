"""The edge's grammar for each shipped schema, on the default model's tokenizer, accepts every labelled example
as the compact JSON the decoder writes, within the system's max_output_tokens, and rejects broken documents."""

from __future__ import annotations

import json

import llguidance
import pytest
from mlx_lm.utils import load_tokenizer

from edge_worker.constrained import compile_schema, grammar_tokenizer
from edge_worker.constrained.grammar import STRICT_FORMATS, grammar_schema
from edge_worker.model_store import prepare_default_model
from schemas.system_definition import load_systems, output_validator

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


# Patterns and strings on which the edge's decoder (llguidance) and the cloud's validator (ECMA-262 with "u")
# must agree: a string the edge writes and the cloud refuses is a record that can never be stored. Where the
# edge is stricter (llguidance's \s leaves out U+FEFF) it only writes less.
EDGE_STRICTER = {"\ufeffxa!x"}
AGREEMENT = [
    ("^\\p{L}+$", ["Ana", "école", "p{L}", "a1", "日本"]),
    ("^\\d\\d:\\d\\d$", ["09:30", "09:30\n", "٠٩:٣٠"]),
    ("^a$", ["a", "a\n", "ab"]),
    ("^[a-z\\-]+$", ["a-b", "A"]),
    ("^.$", ["x", "😀", "\u2028", "\u2029", "\r", "\n"]),
    ("^\\s\\S\\w\\W\\D$", ["\u00a0xa!x", "\ufeffxa!x", " x_ é", "\u3000éaéé", "\u2028x1-x"]),
]


@pytest.mark.parametrize(("pattern", "values"), AGREEMENT)
def test_the_edge_grammar_and_the_cloud_validator_read_a_pattern_alike(tokenizer, pattern, values):
    schema = {"type": "object", "required": ["v"], "properties": {"v": {"type": "string", "pattern": pattern}}}
    gtok = grammar_tokenizer(tokenizer)
    grammar = compile_schema(schema, gtok, system="agreement")
    validator = output_validator(schema)
    for value in values:
        matcher = llguidance.LLMatcher(gtok.ll_tokenizer, grammar)
        tokens = _tokens(tokenizer, {"v": value})
        edge = bool(matcher.consume_tokens(tokens)) and not matcher.is_error() and matcher.is_accepting()
        cloud = validator.is_valid({"v": value})
        assert (edge, cloud) != (True, False), f"the edge writes {value!r} for {pattern!r}; the cloud refuses it"
        assert edge == cloud or value in EDGE_STRICTER, (pattern, value, edge, cloud)


def test_a_const_that_looks_like_a_schema_is_forced_as_written(tokenizer):
    const = {"pattern": "a.b", "format": "date"}
    named = {"type": "string", "format": "date"}  # a property named like a data keyword is still a schema
    schema = {"type": "object", "required": ["v"], "properties": {"v": {"const": const}, "default": named}}
    gtok = grammar_tokenizer(tokenizer)
    matcher = llguidance.LLMatcher(gtok.ll_tokenizer, compile_schema(schema, gtok, system="data"))
    tokens = _tokens(tokenizer, {"v": const})
    assert matcher.consume_tokens(tokens) and not matcher.is_error() and matcher.is_accepting()
    assert output_validator(schema).is_valid({"v": const})
    assert grammar_schema(schema)["properties"]["default"] == {"type": "string", "pattern": STRICT_FORMATS["date"]}
