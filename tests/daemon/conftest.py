"""Fixtures for edge worker tests: a translator over a tiny local model, loaded through the real path."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "edge"))

from tiny_model import build_tiny_model  # noqa: E402

from edge_worker.model_store import load_model  # noqa: E402
from edge_worker.translator import Translator  # noqa: E402


@pytest.fixture(scope="session")
def tiny_translator(tmp_path_factory) -> Translator:
    model, tokenizer, info = load_model(str(build_tiny_model(tmp_path_factory.mktemp("tiny-edge-model"))))
    return Translator(model, tokenizer, info, max_tokens=160)
