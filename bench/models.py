"""The model a bench section runs on: the tiny random llama (quick) or the prepared SmolLM2 (full)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.progress import progress

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class BenchModel:
    model: Any
    tokenizer: Any
    info: Any
    label: str


def _build_tiny_model(folder: Path) -> Path:
    spec = importlib.util.spec_from_file_location("tiny_model", ROOT / "tests" / "edge" / "tiny_model.py")
    tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny)
    return tiny.build_tiny_model(folder)


def load_bench_model(quick: bool, scratch: Path) -> BenchModel:
    from edge_worker.model_store import load_model, prepare_default_model

    if quick:
        folder, label = _build_tiny_model(scratch / "tiny-model"), "tiny random llama (2 layers, hidden 64)"
    else:
        folder = prepare_default_model(progress=progress)
        label = folder.name
    progress(f"loading {label}")
    from edge_worker.translator import for_this_device

    model, tokenizer, info = load_model(str(folder))
    return BenchModel(for_this_device(model), tokenizer, info, label)
