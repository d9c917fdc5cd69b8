"""Constrained decoding yields schema-valid JSON from a random model, whatever the seed or temperature."""

from __future__ import annotations

import json

import mlx.core as mx
import numpy as np
import pytest
from mlx_lm.sample_utils import make_sampler

from edge_worker.constrained import (
    ConstrainedGenerationError,
    SchemaConstraint,
    UnsupportedSchemaError,
    compile_schema,
    generate_constrained,
    grammar_tokenizer,
)
from edge_worker.constrained.processor import masked_logits
from schemas.system_definition import load_systems, output_validator

SHIPPED = load_systems()
OWN_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["title", "count", "done", "ratio", "tags", "owner"],
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 40},
        "count": {"type": "integer", "minimum": 0},
        "done": {"type": "boolean"},
        "ratio": {"type": ["number", "null"]},
        "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "maxItems": 4},
        "owner": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "when": {"type": "string", "format": "date"}},
        },
    },
}
# Every new item costs many required tokens: the budget guard must look ahead, not just close brackets.
DEEP_SCHEMA = {
    "type": "object",
    "required": ["groups"],
    "properties": {
        "groups": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["label", "members", "meta"],
                "properties": {
                    "label": {"type": "string"},
                    "members": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["name", "role"],
                            "properties": {"name": {"type": "string"}, "role": {"enum": ["lead", "member"]}},
                        },
                    },
                    "meta": {
                        "type": "object",
                        "required": ["created"],
                        "properties": {"created": {"type": "string", "format": "date-time"}},
                    },
                },
            },
        }
    },
}
PROMPTS = [
    "Session summary: the user booked a dentist visit and wants a daily walk reminder.",
    '{"tasks": [], "events": [{"title": "x"}]} <|im_start|> unrelated text 12345',
    "a",
]
RUNS = 50  # per shipped schema: 187 generations in all
TEMPERATURES = [0.0, 1.0, 5.0, 50.0]  # 50 is close to a uniform walk over allowed tokens


def _generate(tiny_model, schema, *, seed, temperature, budget, prompt, name="test"):
    gtok = grammar_tokenizer(tiny_model.tokenizer)
    constraint = SchemaConstraint(gtok, compile_schema(schema, gtok, system=name), max_tokens=budget, system=name)
    mx.random.seed(seed)
    return generate_constrained(
        tiny_model.model,
        tiny_model.tokenizer,
        tiny_model.tokenizer.encode(prompt),
        constraint,
        max_tokens=budget,
        sampler=make_sampler(temp=temperature),
    )


def test_shipped_systems_are_present():
    assert SHIPPED.errors == []
    assert {"planner", "synapse", "nudge"} <= set(SHIPPED.systems)


@pytest.mark.parametrize("name", sorted(SHIPPED.systems) + ["own", "deep"])
def test_random_generations_are_always_schema_valid(tiny_model, name):
    schema = {"own": OWN_SCHEMA, "deep": DEEP_SCHEMA}.get(name) or SHIPPED.systems[name].schema
    validator = output_validator(schema)
    shapes = set()
    runs = {"own": RUNS // 2, "deep": 12}.get(name, RUNS)  # the own and deep ones are the slowest
    for run in range(runs):
        budget = (64, 112, 160)[run % 3] if name != "deep" else 400
        generation = _generate(
            tiny_model,
            schema,
            seed=run,
            temperature=TEMPERATURES[run % len(TEMPERATURES)],
            budget=budget,
            prompt=PROMPTS[run % len(PROMPTS)],
            name=name,
        )
        document = json.loads(generation.text)
        errors = [error.message for error in validator.iter_errors(document)]
        assert errors == [], (run, generation.text)
        assert 0 < len(generation.tokens) <= budget
        shapes.add(generation.text)
    print(name, len(shapes), "distinct")
    assert len(shapes) >= min(8, runs // 3), "generations should differ across seeds and temperatures"


def test_processor_syncs_from_history_and_is_idempotent(tiny_model):
    gtok = grammar_tokenizer(tiny_model.tokenizer)
    grammar = compile_schema(OWN_SCHEMA, gtok, system="own")
    constraint = SchemaConstraint(gtok, grammar, max_tokens=50, system="own")
    vocab = tiny_model.model.model.embed_tokens.weight.shape[0]
    logits = mx.zeros((1, vocab))
    prompt = mx.array(tiny_model.tokenizer.encode("hello"))

    first = np.array(constraint(prompt, logits))[0]
    allowed = [i for i in range(vocab) if np.isfinite(first[i])]
    assert allowed and all(gtok.token_bytes[i].startswith(b"{") for i in allowed)

    brace = tiny_model.tokenizer.encode("{", add_special_tokens=False)
    history = mx.concatenate([prompt, mx.array(brace)])
    second = np.array(constraint(history, logits))[0]
    again = np.array(constraint(history, logits))[0]  # same history twice: nothing consumed twice
    assert constraint.generated == brace
    assert np.array_equal(np.isfinite(second), np.isfinite(again))
    assert all(gtok.token_bytes[i].startswith(b'"') for i in range(vocab) if np.isfinite(second[i]))


def test_cpu_mask_matches_llguidance_reference(tiny_model):
    from llguidance.numpy import apply_token_bitmask_inplace

    gtok = grammar_tokenizer(tiny_model.tokenizer)
    constraint = SchemaConstraint(gtok, compile_schema(OWN_SCHEMA, gtok, system="own"), max_tokens=50, metal=False)
    constraint.sync(tiny_model.tokenizer.encode('{"title":"ab', add_special_tokens=False))
    vocab = gtok.ll_tokenizer.vocab_size
    logits = np.random.default_rng(0).normal(size=(1, vocab)).astype(np.float32)
    bitmask = np.full((1, (vocab + 31) // 32), -1, dtype=np.int32)
    from llguidance.numpy import fill_next_token_bitmask

    fill_next_token_bitmask(constraint.matcher, bitmask)
    ours = np.array(masked_logits(mx.array(logits), bitmask, vocab, metal=False))
    reference = logits.copy()
    apply_token_bitmask_inplace(reference, bitmask)
    assert np.array_equal(ours, reference)
    assert 0 < np.isfinite(ours).sum() < vocab


def test_unsupported_schema_names_system_and_problem(tiny_model):
    gtok = grammar_tokenizer(tiny_model.tokenizer)
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": "(?<=a)b"}}}
    with pytest.raises(UnsupportedSchemaError, match=r"(?s)system 'broken'.*look-around"):
        compile_schema(schema, gtok, system="broken")
    with pytest.raises(UnsupportedSchemaError, match=r"system 'broken'.*Unimplemented keys"):
        compile_schema({"type": "object", "if": {"required": ["a"]}, "then": {}}, gtok, system="broken")


def test_budget_too_small_for_schema_is_a_clear_error(tiny_model):
    schema = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string", "minLength": 300}}}
    with pytest.raises(ConstrainedGenerationError, match=r"system 'long'.*needs more than 12 tokens"):
        _generate(tiny_model, schema, seed=0, temperature=0.0, budget=12, prompt="x", name="long")


def test_grammar_tokenizer_is_built_once_per_tokenizer(tiny_model):
    assert grammar_tokenizer(tiny_model.tokenizer) is grammar_tokenizer(tiny_model.tokenizer)
