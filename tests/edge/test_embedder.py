"""Search embeddings from a local model's hidden states: unit length, deterministic, tied to a registry version."""

from __future__ import annotations

import math

import pytest

from edge_worker.embedder import Embedder
from schemas.lineage import content_version


@pytest.fixture(scope="module")
def embedder(tiny_model) -> Embedder:
    return Embedder(tiny_model.model, tiny_model.tokenizer, tiny_model.info)


def test_vectors_are_unit_length_with_the_model_width(embedder, tiny_model):
    vector = embedder.embed("Book the dentist for Friday at nine")
    assert len(vector) == embedder.dims == tiny_model.model.args.hidden_size
    assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-4)


def test_the_same_text_gives_the_same_vector_and_another_text_another(embedder):
    text = "Plan a hiking trip to the Alps in July"
    assert embedder.embed(text) == embedder.embed(text)
    other = embedder.embed("Buy milk, eggs and bread on the way home")
    cosine = sum(a * b for a, b in zip(embedder.embed(text), other))
    assert cosine < 0.9999


def test_the_version_names_model_pooling_and_width(embedder, tiny_model):
    content = embedder.registry_content()
    assert content["dims"] == embedder.dims and content["pooling"] == "mean"
    assert embedder.version == content_version("embedding-model", content)
    last = Embedder(tiny_model.model, tiny_model.tokenizer, tiny_model.info, pooling="last")
    assert last.version != embedder.version
    assert last.embed("Book the dentist") != embedder.embed("Book the dentist")


def test_long_texts_are_cut_at_max_tokens_and_bad_input_is_refused(embedder, tiny_model):
    short = Embedder(tiny_model.model, tiny_model.tokenizer, tiny_model.info, max_tokens=4)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa"
    assert short.embed(words) == short.embed(words + " lambda mu nu xi omicron")
    with pytest.raises(ValueError, match="no tokens"):
        embedder.embed("")
    with pytest.raises(ValueError, match="pooling"):
        Embedder(tiny_model.model, tiny_model.tokenizer, tiny_model.info, pooling="max")
