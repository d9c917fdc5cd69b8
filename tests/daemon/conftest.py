"""Fixtures for edge worker tests: a translator over a tiny local model, loaded through the real path."""

from __future__ import annotations

import pytest
from tiny_model import build_tiny_model

from edge_worker.model_store import load_model
from edge_worker.translator import Translator


@pytest.fixture(scope="session")
def tiny_translator(tmp_path_factory) -> Translator:
    model, tokenizer, info = load_model(str(build_tiny_model(tmp_path_factory.mktemp("tiny-edge-model"))))
    return Translator(model, tokenizer, info, max_tokens=160)
