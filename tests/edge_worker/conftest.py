"""Fixtures for edge worker tests: the local stack plus a worker translating with a tiny local model."""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "edge"))

from tiny_model import build_tiny_model  # noqa: E402

from edge_worker.api_client import EdgeApi  # noqa: E402
from edge_worker.catalog import SystemCatalog  # noqa: E402
from edge_worker.config import EdgeConfig  # noqa: E402
from edge_worker.model_store import load_model  # noqa: E402
from edge_worker.translator import Translator  # noqa: E402
from edge_worker.worker import EdgeWorker  # noqa: E402
from schemas.system_definition import default_systems_dir  # noqa: E402
from stack_helpers import make_token  # noqa: E402


@pytest.fixture(scope="session")
def tiny_translator(tmp_path_factory) -> Translator:
    model, tokenizer, info = load_model(str(build_tiny_model(tmp_path_factory.mktemp("tiny-edge-model"))))
    return Translator(model, tokenizer, info, max_tokens=160)


@contextlib.contextmanager
def edge_worker(stack, translator, state_dir: Path, systems_dirs: list[Path] | None = None,
                api_url: str | None = None, **settings) -> Iterator[EdgeWorker]:
    config = EdgeConfig(api_url=api_url or stack.api_url, queue_url=stack.resolved("EdgeQueue"),
                        systems_dirs=systems_dirs or [default_systems_dir()], state_dir=state_dir,
                        **{"wait_seconds": 1, "visibility_seconds": 30, "reconcile_seconds": 3600,
                           "flush_seconds": 0.5, **settings})
    api = EdgeApi(config.api_url, make_token(stack, ["edge"], name=f"edge-{state_dir.name}"))
    worker = EdgeWorker(config, api, translator, catalog=SystemCatalog(config.systems_dirs),
                        sqs=stack.client("sqs")).start()
    try:
        yield worker
    finally:
        worker.stop()
