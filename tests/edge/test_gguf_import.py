"""GGUF import: a tiny llama written with the `gguf` package gives the same logits through mlx_lm.load
as a reference model built from the dequantized tensors."""

from __future__ import annotations

import json
from pathlib import Path

import mlx.core as mx
import mlx_lm
import numpy as np
import pytest
from gguf import GGUFWriter
from mlx_lm.models import llama
from tiny_gguf import CORPUS, HIDDEN, KV_HEADS, LAYERS, train_tokenizer, write_tiny_gguf

from edge_worker.gguf_import import GGUFImportError, import_gguf


def _reference_logits(folder: Path, decoded: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    config = json.loads((folder / "config.json").read_text())
    config.pop("quantization"), config.pop("quantization_config")
    model = llama.Model(llama.ModelArgs.from_dict(config))
    model.load_weights([(name, mx.array(value)) for name, value in decoded.items()])
    return np.array(model(mx.array([ids]))[0])


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "separate-output"])
def test_imported_model_matches_the_dequantized_reference(tmp_path: Path, tied: bool):
    source = tmp_path / "tiny.gguf"
    decoded = write_tiny_gguf(source, tied=tied)
    folder = import_gguf(source, tmp_path / "tiny-mlx", progress=lambda message: None, dtype=mx.float32)

    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "llama" and config["rope_traditional"] is True
    assert config["tie_word_embeddings"] is tied
    assert (config["hidden_size"], config["num_hidden_layers"], config["num_key_value_heads"]) == (
        HIDDEN,
        LAYERS,
        KV_HEADS,
    )
    # Q4_0/Q4_1 layers dominate; the 8-bit ones (Q8_0) are listed one by one.
    assert config["quantization"]["bits"] == 4 and config["quantization"]["group_size"] == 32
    assert config["quantization"]["model.layers.0.self_attn.v_proj"] == {"group_size": 32, "bits": 8}
    assert config["quantization"]["model.embed_tokens"] == {"group_size": 32, "bits": 8}

    model, tokenizer = mlx_lm.load(str(folder))
    ids = tokenizer.encode("Planner: call Carmen on 2025-06-10 at 08:30.")
    logits = np.array(model(mx.array([ids]))[0])
    reference = _reference_logits(folder, decoded, ids)
    assert logits.shape == (len(ids), len(tokenizer.vocab))
    np.testing.assert_allclose(logits, reference, atol=2e-3, rtol=2e-3)
    assert np.abs(reference).max() > 0.5  # the comparison is not between two near-zero outputs


def test_tokenizer_comes_from_the_gguf_metadata(tmp_path: Path):
    source = tmp_path / "tiny.gguf"
    write_tiny_gguf(source, tied=True)
    folder = import_gguf(source, tmp_path / "tiny-mlx", progress=lambda message: None)
    _, tokenizer = mlx_lm.load(str(folder))
    original = train_tokenizer()

    for text in CORPUS + ["naïve café — 東京 🙂\n  indented\tand 2025-01-31"]:
        ids = tokenizer.encode(text)
        assert tokenizer.decode(ids) == text
    # smollm pre-tokenization splits digits one by one, as llama.cpp does
    assert [tokenizer.decode([i]) for i in tokenizer.encode("12345")] == list("12345")
    for text in CORPUS:
        assert tokenizer.encode(text) == original.encode(text).ids != []

    assert tokenizer.eos_token == "<|im_end|>"
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert prompt == "<|im_start|>user\nhi<|im_end|>\n"
    assert tokenizer.encode("<|im_start|>")[0] == original.token_to_id("<|im_start|>")


def test_import_reports_progress_on_the_callback(tmp_path: Path):
    source = tmp_path / "tiny.gguf"
    write_tiny_gguf(source, tied=True)
    messages: list[str] = []
    import_gguf(source, tmp_path / "out", progress=messages.append)
    assert any(message.startswith("importing tensors") for message in messages)
    assert messages[-1].startswith("wrote ")


def test_an_interrupted_import_leaves_no_folder(tmp_path: Path):
    source = tmp_path / "tiny.gguf"
    write_tiny_gguf(source, tied=True)

    def stop_while_writing(message: str) -> None:
        if message.startswith("writing"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_gguf(source, tmp_path / "out", progress=stop_while_writing)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.gguf"]


def test_existing_destination_is_refused_unless_overwrite(tmp_path: Path):
    source = tmp_path / "tiny.gguf"
    write_tiny_gguf(source, tied=True)
    (tmp_path / "out").mkdir()
    with pytest.raises(GGUFImportError, match="already exists"):
        import_gguf(source, tmp_path / "out", progress=lambda message: None)
    import_gguf(source, tmp_path / "out", progress=lambda message: None, overwrite=True)
    assert (tmp_path / "out" / "model.safetensors").is_file()


def test_non_gguf_and_foreign_architectures_are_named(tmp_path: Path):
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf file at all")
    with pytest.raises(GGUFImportError, match="junk.gguf"):
        import_gguf(junk, tmp_path / "out", progress=lambda message: None)

    other = tmp_path / "other.gguf"
    writer = GGUFWriter(str(other), "gpt2")
    writer.add_tensor("token_embd.weight", np.zeros((4, 32), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(GGUFImportError, match="architecture 'gpt2' is not supported"):
        import_gguf(other, tmp_path / "out", progress=lambda message: None)
    assert not (tmp_path / "out").exists()
