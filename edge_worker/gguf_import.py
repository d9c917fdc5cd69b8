"""Turn a llama-architecture GGUF file into an MLX model folder that `mlx_lm.load` reads.

`mx.load` reads GGUF Q4_0/Q4_1/Q8_0 tensors straight into MLX quantized (weight, scales, biases)
triples with group size 32, so the weights are renamed, not requantized.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlx.core as mx

Progress = Callable[[str], None]

GROUP_SIZE = 32

_LAYER_TENSORS = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
}
_TOP_TENSORS = {
    "token_embd": "model.embed_tokens",
    "output_norm": "model.norm",
    "output": "lm_head",
}

# llama.cpp's pre-tokenizer names -> how the Hugging Face tokenizer splits text before BPE.
_GPT2_PRE = ("default", "gpt2", "mpt", "olmo", "jais")
_DIGIT_SPLIT_PRE = ("smollm", "starcoder", "refact", "codeshell", "command-r", "exaone", "minerva")
_LLAMA3_PRE = ("llama-bpe", "llama3")
_LLAMA3_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

TOKEN_CONTROL = 3
TOKEN_USER_DEFINED = 4


class GGUFImportError(Exception):
    """The GGUF file cannot be turned into an MLX llama model, and why."""


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _plain(value: Any) -> Any:
    if isinstance(value, mx.array):
        return value.item() if value.ndim == 0 else value.tolist()
    return value


def read_gguf(path: Path | str) -> tuple[dict[str, mx.array], dict[str, Any]]:
    """Tensors and metadata (as plain Python values) of a GGUF file."""
    path = Path(path)
    if path.is_dir():
        raise GGUFImportError(f"{path}: is a directory, not a GGUF file")
    if not path.is_file():
        raise GGUFImportError(f"{path}: no such file")
    try:
        tensors, metadata = mx.load(str(path), format="gguf", return_metadata=True)
    except Exception as exc:  # mlx raises plain exceptions for unreadable files
        raise GGUFImportError(f"{path}: not a readable GGUF file ({exc})") from None
    if not isinstance(tensors, dict) or not isinstance(metadata, dict):
        raise GGUFImportError(f"{path}: GGUF file without named tensors and metadata")
    return tensors, {key: _plain(value) for key, value in metadata.items()}


def _meta(metadata: dict[str, Any], key: str, default: Any = None, required: bool = False) -> Any:
    if key in metadata:
        return metadata[key]
    if required:
        raise GGUFImportError(f"GGUF metadata has no {key!r}")
    return default


def mlx_name(gguf_name: str) -> str:
    """`blk.3.attn_q.scales` -> `model.layers.3.self_attn.q_proj.scales`."""
    base, _, suffix = gguf_name.rpartition(".")
    if suffix not in ("weight", "scales", "biases", "bias"):
        raise GGUFImportError(f"unexpected tensor {gguf_name!r}")
    if base in _TOP_TENSORS:
        return f"{_TOP_TENSORS[base]}.{suffix}"
    parts = base.split(".")
    if len(parts) == 3 and parts[0] == "blk" and parts[1].isdigit() and parts[2] in _LAYER_TENSORS:
        return f"model.layers.{parts[1]}.{_LAYER_TENSORS[parts[2]]}.{suffix}"
    raise GGUFImportError(f"tensor {gguf_name!r} has no place in an MLX llama model")


def _bits(weight: mx.array, scales: mx.array) -> int:
    in_dims = scales.shape[-1] * GROUP_SIZE
    return weight.shape[-1] * 32 // in_dims


def default_dtype() -> mx.Dtype:
    """float16 where Metal runs it fast; float32 on CPU builds, where float16 matmuls are ~40x slower."""
    return mx.float16 if mx.metal.is_available() else mx.float32


def convert_weights(
    tensors: dict[str, mx.array], progress: Progress = _stderr, dtype: mx.Dtype | None = None
) -> tuple[dict[str, mx.array], dict[str, int]]:
    """Rename tensors to mlx-lm's llama names; returns the weights and the bits of each quantized layer.

    Floating tensors (scales, biases, norms, unquantized weights) are cast to `dtype`.
    """
    dtype = dtype or default_dtype()
    weights: dict[str, mx.array] = {}
    layer_bits: dict[str, int] = {}
    names = sorted(tensors)
    step = max(1, len(names) // 10)
    for index, name in enumerate(names, start=1):
        if name == "rope_freqs.weight":
            raise GGUFImportError("rope_freqs (Llama 3.1 rope scaling) is not supported")
        target = mlx_name(name)
        array = tensors[name]
        if mx.issubdtype(array.dtype, mx.floating) and array.dtype != dtype:
            array = array.astype(dtype)
        weights[target] = array
        if target.endswith(".scales"):
            layer = target[: -len(".scales")]
            layer_bits[layer] = _bits(tensors[name[: -len("scales")] + "weight"], tensors[name])
        if index % step == 0 or index == len(names):
            progress(f"importing tensors {index}/{len(names)}")
    for layer, bits in layer_bits.items():
        if bits not in (4, 8):
            raise GGUFImportError(f"{layer}: unsupported quantization ({bits} bits)")
    return weights, layer_bits


def model_config(metadata: dict[str, Any], weights: dict[str, mx.array], layer_bits: dict[str, int]) -> dict[str, Any]:
    architecture = _meta(metadata, "general.architecture", required=True)
    if architecture != "llama":
        raise GGUFImportError(f"architecture {architecture!r} is not supported (only 'llama')")

    def arch(key: str, default: Any = None, required: bool = False) -> Any:
        return _meta(metadata, f"llama.{key}", default, required)

    hidden = int(arch("embedding_length", required=True))
    heads = int(arch("attention.head_count", required=True))
    tokens = _meta(metadata, "tokenizer.ggml.tokens", [])
    config: dict[str, Any] = {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": hidden,
        "num_hidden_layers": int(arch("block_count", required=True)),
        "intermediate_size": int(arch("feed_forward_length", required=True)),
        "num_attention_heads": heads,
        "num_key_value_heads": int(arch("attention.head_count_kv", heads)),
        "head_dim": int(arch("attention.key_length", arch("rope.dimension_count", hidden // heads))),
        "rms_norm_eps": float(arch("attention.layer_norm_rms_epsilon", 1e-5)),
        "vocab_size": int(arch("vocab_size", len(tokens))),
        "max_position_embeddings": int(arch("context_length", 2048)),
        "rope_theta": float(arch("rope.freq_base", 10000.0)),
        "rope_traditional": True,  # llama.cpp stores q/k rows for interleaved rotary pairs
        "tie_word_embeddings": "lm_head.weight" not in weights,
        "attention_bias": any(name.endswith("self_attn.q_proj.bias") for name in weights),
        "mlp_bias": False,
    }
    scaling = arch("rope.scaling.type")
    if scaling == "linear":
        config["rope_scaling"] = {"type": "linear", "factor": float(arch("rope.scaling.factor", 1.0))}
    elif scaling not in (None, "none"):
        raise GGUFImportError(f"rope scaling {scaling!r} is not supported")
    for key, field in (("bos_token_id", "bos_token_id"), ("eos_token_id", "eos_token_id")):
        value = _meta(metadata, f"tokenizer.ggml.{key}")
        if value is not None:
            config[field] = int(value)
    eot = _meta(metadata, "tokenizer.ggml.eot_token_id")
    if eot is not None and "eos_token_id" in config and int(eot) != config["eos_token_id"]:
        config["eos_token_id"] = [config["eos_token_id"], int(eot)]
    if layer_bits:
        default_bits = Counter(layer_bits.values()).most_common(1)[0][0]
        quantization: dict[str, Any] = {"group_size": GROUP_SIZE, "bits": default_bits}
        for layer, bits in sorted(layer_bits.items()):
            if bits != default_bits:
                quantization[layer] = {"group_size": GROUP_SIZE, "bits": bits}
        config["quantization"] = quantization
        config["quantization_config"] = quantization
    return config


def _pre_tokenizer(pre: str):
    from tokenizers import Regex, pre_tokenizers

    if pre in _GPT2_PRE:
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre in _DIGIT_SPLIT_PRE:
        return pre_tokenizers.Sequence(
            [
                pre_tokenizers.Digits(individual_digits=True),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
            ]
        )
    if pre in _LLAMA3_PRE:
        return pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(_LLAMA3_REGEX), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    raise GGUFImportError(f"pre-tokenizer {pre!r} is not supported")


def build_tokenizer(metadata: dict[str, Any]):
    """A `tokenizers.Tokenizer` from the GGUF vocabulary (byte-level BPE, as in GPT-2 and Llama 3)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, processors

    kind = _meta(metadata, "tokenizer.ggml.model", required=True)
    if kind != "gpt2":
        raise GGUFImportError(f"tokenizer model {kind!r} is not supported (only byte-level BPE 'gpt2')")
    tokens: list[str] = _meta(metadata, "tokenizer.ggml.tokens", required=True)
    merges: list[str] = _meta(metadata, "tokenizer.ggml.merges", required=True)
    types: list[int] = _meta(metadata, "tokenizer.ggml.token_type", [1] * len(tokens))
    if len(types) != len(tokens):
        raise GGUFImportError("tokenizer.ggml.token_type and tokenizer.ggml.tokens differ in length")
    vocab: dict[str, int] = {}
    for token_id, token in enumerate(tokens):
        vocab.setdefault(token, token_id)
    pairs = []
    for merge in merges:
        left, sep, right = merge.partition(" ")
        if not sep:
            raise GGUFImportError(f"malformed merge {merge!r}")
        pairs.append((left, right))
    pre = _meta(metadata, "tokenizer.ggml.pre", "default")
    tokenizer = Tokenizer(
        models.BPE(vocab=vocab, merges=pairs, fuse_unk=False, byte_fallback=False, ignore_merges=pre in _LLAMA3_PRE)
    )
    tokenizer.pre_tokenizer = _pre_tokenizer(pre)
    tokenizer.decoder = decoders.ByteLevel()
    byte_level = processors.ByteLevel(trim_offsets=False)
    bos_id = _meta(metadata, "tokenizer.ggml.bos_token_id")
    if _meta(metadata, "tokenizer.ggml.add_bos_token", False) and bos_id is not None:
        bos = tokens[int(bos_id)]
        template = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, int(bos_id))]
        )
        tokenizer.post_processor = processors.Sequence([byte_level, template])
    else:
        tokenizer.post_processor = byte_level
    added = [
        AddedToken(token, special=token_type == TOKEN_CONTROL, normalized=False)
        for token, token_type in zip(tokens, types)
        if token_type in (TOKEN_CONTROL, TOKEN_USER_DEFINED)
    ]
    tokenizer.add_tokens(added)
    return tokenizer


def tokenizer_config(metadata: dict[str, Any]) -> dict[str, Any]:
    tokens: list[str] = _meta(metadata, "tokenizer.ggml.tokens", required=True)

    def token(key: str) -> str | None:
        token_id = _meta(metadata, f"tokenizer.ggml.{key}_token_id")
        return tokens[int(token_id)] if token_id is not None and 0 <= int(token_id) < len(tokens) else None

    config: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": int(_meta(metadata, "llama.context_length", 2048)),
        "clean_up_tokenization_spaces": False,
        "add_bos_token": bool(_meta(metadata, "tokenizer.ggml.add_bos_token", False)),
        "add_eos_token": bool(_meta(metadata, "tokenizer.ggml.add_eos_token", False)),
    }
    for key in ("bos", "eos", "unk"):
        if (value := token(key)) is not None:
            config[f"{key}_token"] = value
    pad = token("padding") or config.get("eos_token")
    if pad is not None:
        config["pad_token"] = pad
    if (template := _meta(metadata, "tokenizer.chat_template")) is not None:
        config["chat_template"] = template
    return config


def import_gguf(
    src: Path | str,
    dest: Path | str,
    progress: Progress = _stderr,
    overwrite: bool = False,
    dtype: mx.Dtype | None = None,
) -> Path:
    """Write an MLX model folder for the GGUF file `src` at `dest` (all or nothing)."""
    src, dest = Path(src), Path(dest)
    if dest.exists() and not overwrite:
        raise GGUFImportError(f"{dest} already exists")
    progress(f"reading {src}")
    tensors, metadata = read_gguf(src)
    weights, layer_bits = convert_weights(tensors, progress, dtype)
    config = model_config(metadata, weights, layer_bits)
    tokenizer = build_tokenizer(metadata)

    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        current = os.umask(0)
        os.umask(current)
        staging.chmod(0o777 & ~current)  # as a folder made with mkdir (mkdtemp makes it 0700)
        progress("writing model.safetensors")
        mx.save_safetensors(str(staging / "model.safetensors"), weights, metadata={"format": "mlx"})
        (staging / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        tokenizer.save(str(staging / "tokenizer.json"))
        (staging / "tokenizer_config.json").write_text(
            json.dumps(tokenizer_config(metadata), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        (staging / "gguf_source.json").write_text(
            json.dumps({"source": src.name, "name": _meta(metadata, "general.name")}, indent=2) + "\n",
            encoding="utf-8",
        )
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    progress(f"wrote {dest}")
    return dest
