"""Shared fixtures for the edge worker tests: a tiny random llama loaded through mlx_lm.load."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tiny_model import build_tiny_model

from edge_worker.model_store import ModelInfo


@dataclass(frozen=True)
class LoadedTinyModel:
    model: Any
    tokenizer: Any
    info: ModelInfo


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path) -> LoadedTinyModel:
    import hashlib

    import mlx_lm

    model, tokenizer = mlx_lm.load(str(tiny_model_dir))
    digest = hashlib.sha256((tiny_model_dir / "model.safetensors").read_bytes()).hexdigest()
    return LoadedTinyModel(model, tokenizer, ModelInfo("tiny-random-llama", digest, tiny_model_dir))
