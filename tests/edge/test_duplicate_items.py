"""No document holds the same array item twice: decoding alone rolls a repeat back (matcher and KV cache) and
closes the array; a batch drops it afterwards and counts it. Greedy outputs without repeats are unchanged."""

from __future__ import annotations

import json

import pytest
from test_decoding import SUMMARIES, SYSTEMS

from edge_worker.constrained import SchemaConstraint
from edge_worker.constrained.budget import worst_case_tokens
from edge_worker.constrained.decode import Decoding, decode
from edge_worker.constrained.duplicates import ItemTracker
from edge_worker.jobs import TranslationJob
from edge_worker.quality.items import ItemKeys, duplicate_count
from edge_worker.translator import Translation, Translator
from schemas.system_definition import SystemDefinition

TAGS = SystemDefinition.from_dict(
    {
        "name": "tags",
        "description": "labels",
        "instructions": "Label the summary.",
        "schema": {
            "type": "object",
            "additionalProperties": False,
            "required": ["tags"],
            "properties": {
                "tags": {"type": "array", "minItems": 1, "maxItems": 8, "items": {"enum": ["travel", "work", "home"]}}
            },
        },
        "examples": [],
        "max_output_tokens": 120,
    }
)


@pytest.fixture(scope="module")
def translator(tiny_model):
    return Translator(tiny_model.model, tiny_model.tokenizer, tiny_model.info, max_tokens=96)


def _decode(translator, system, summary, *, tracked: bool) -> Decoding:
    """One sequence decoded alone, greedy, with or without the repeat finder."""
    cache, rest = translator.prefix_cache(system, summary)
    budget = translator.budget_for(system)
    constraint = SchemaConstraint(
        translator.gtok,
        translator.grammar_for(system),
        max_tokens=budget,
        system=system.name,
        worst_case_tokens=worst_case_tokens(system.schema),
    )
    items = ItemTracker(ItemKeys.of(system).key) if tracked else None
    decoding = Decoding(rest, cache, constraint, items=items)
    decode(translator.model, [decoding])
    assert decoding.error is None, decoding.error
    return decoding


def test_a_repeated_item_is_rolled_back_and_its_array_closed_when_decoding_alone(translator):
    plain = _decode(translator, TAGS, SUMMARIES[0], tracked=False)
    assert duplicate_count(json.loads(plain.text), ItemKeys()) > 0  # this model repeats itself here
    tracked = _decode(translator, TAGS, SUMMARIES[0], tracked=True)
    document = json.loads(tracked.text)
    assert duplicate_count(document, ItemKeys()) == 0 and TAGS.validation_errors(document) == []
    assert tracked.duplicates_suppressed == 1
    # Everything up to the repeat's separator is what the untracked run generated.
    kept = tracked.text.rstrip("]}")
    assert plain.text.startswith(kept) and plain.text[len(kept)] == ","
    # Same document through the translator, which reports the roll-back in the stats.
    [translation] = translator.translate("t-1", SUMMARIES[0], [TAGS])
    assert isinstance(translation, Translation) and translation.document == document
    assert (translation.stats.duplicates_suppressed, translation.stats.duplicates_dropped) == (1, 0)


def test_a_batch_drops_repeats_after_decoding_and_counts_them(translator):
    [outcomes] = translator.translate_many([TranslationJob("b-1", SUMMARIES[0], [TAGS, TAGS])], batch_size=2)
    for translation in outcomes:
        assert isinstance(translation, Translation)
        assert duplicate_count(translation.document, ItemKeys()) == 0
        assert translation.stats.duplicates_dropped > 0 and translation.stats.duplicates_suppressed == 0


def test_greedy_outputs_without_repeats_are_token_identical_with_the_finder(translator):
    compared = 0
    for system in SYSTEMS:
        for summary in SUMMARIES[:3]:
            plain = _decode(translator, system, summary, tracked=False)
            if duplicate_count(json.loads(plain.text), ItemKeys.of(system)):
                continue
            assert _decode(translator, system, summary, tracked=True).tokens == plain.tokens
            compared += 1
    assert compared >= 6
