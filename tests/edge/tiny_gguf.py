"""A tiny llama GGUF file written with the `gguf` package, in every tensor type the importer handles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFWriter, TokenType
from gguf.quants import dequantize, quantize
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

HIDDEN, FFN, LAYERS, HEADS, KV_HEADS = 64, 128, 2, 4, 2
HEAD_DIM = HIDDEN // HEADS
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
CORPUS = [
    "Planner: the user booked a dentist visit on 2025-06-10 at 08:30 with Dr. Alvarez.",
    "Nudge: remind me every morning at 08:00 to take vitamin D; call Carmen on Friday.",
    'Synapse: {"insights": [], "topics": ["sourdough", "pricing"], "links": []} 12345',
]
# Each kind of tensor llama.cpp writes, in the types the importer must handle.
LAYER_TYPES = {
    "attn_q": Q.Q4_0,
    "attn_k": Q.Q4_1,
    "attn_v": Q.Q8_0,
    "attn_output": Q.F16,
    "ffn_gate": Q.Q4_1,
    "ffn_up": Q.Q4_0,
    "ffn_down": Q.F32,
}


# Written out independently of the importer, so a wrong mapping there cannot hide here.
MLX_NAMES = {
    "token_embd": "model.embed_tokens",
    "output_norm": "model.norm",
    "output": "lm_head",
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}


def mlx_name(gguf_name: str) -> str:
    parts = gguf_name.split(".")
    if parts[0] == "blk":
        return f"model.layers.{parts[1]}.{MLX_NAMES[parts[2]]}.{parts[3]}"
    return f"{MLX_NAMES[parts[0]]}.{parts[1]}"


def train_tokenizer() -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(  # what llama.cpp calls the "smollm" pre-tokenizer
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=352,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS * 10, trainer=trainer)
    return tokenizer


def _shape(name: str, vocab: int) -> tuple[int, int]:
    return {
        "attn_q": (HEADS * HEAD_DIM, HIDDEN),
        "attn_k": (KV_HEADS * HEAD_DIM, HIDDEN),
        "attn_v": (KV_HEADS * HEAD_DIM, HIDDEN),
        "attn_output": (HIDDEN, HEADS * HEAD_DIM),
        "ffn_gate": (FFN, HIDDEN),
        "ffn_up": (FFN, HIDDEN),
        "ffn_down": (HIDDEN, FFN),
        "token_embd": (vocab, HIDDEN),
        "output": (vocab, HIDDEN),
    }[name]


def write_tiny_gguf(path: Path, *, tied: bool, embed_type: Q = Q.Q8_0) -> dict[str, np.ndarray]:
    """Write a tiny llama GGUF; return the float32 tensors the file decodes to, by MLX name."""
    tokenizer = train_tokenizer()
    vocab = tokenizer.get_vocab()
    tokens = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
    merges = [" ".join(m) if isinstance(m, list) else m for m in json.loads(tokenizer.to_str())["model"]["merges"]]
    rng = np.random.default_rng(0)
    writer = GGUFWriter(str(path), "llama")
    writer.add_name("tiny-test-llama")
    writer.add_context_length(512)
    writer.add_embedding_length(HIDDEN)
    writer.add_feed_forward_length(FFN)
    writer.add_block_count(LAYERS)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_dimension_count(HEAD_DIM)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    writer.add_token_merges(merges)
    writer.add_token_types([TokenType.CONTROL if t in SPECIALS else TokenType.NORMAL for t in tokens])
    writer.add_bos_token_id(vocab["<|im_start|>"])
    writer.add_eos_token_id(vocab["<|im_end|>"])
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)

    decoded: dict[str, np.ndarray] = {}

    def add(name: str, values: np.ndarray, qtype: Q) -> None:
        if qtype == Q.F32:
            data, back = values.astype(np.float32), values.astype(np.float32)
        elif qtype == Q.F16:
            data = values.astype(np.float16)
            back = data.astype(np.float32)
        else:
            data = quantize(values.astype(np.float32), qtype)
            back = dequantize(data, qtype).astype(np.float32)
        writer.add_tensor(name, data, raw_dtype=qtype if qtype not in (Q.F32, Q.F16) else None)
        decoded[mlx_name(name)] = back

    add("token_embd.weight", rng.normal(0, 0.5, _shape("token_embd", len(tokens))), embed_type)
    for layer in range(LAYERS):
        add(f"blk.{layer}.attn_norm.weight", 1 + rng.normal(0, 0.1, HIDDEN), Q.F32)
        add(f"blk.{layer}.ffn_norm.weight", 1 + rng.normal(0, 0.1, HIDDEN), Q.F32)
        for kind, qtype in LAYER_TYPES.items():
            add(f"blk.{layer}.{kind}.weight", rng.normal(0, 0.2, _shape(kind, len(tokens))), qtype)
    add("output_norm.weight", 1 + rng.normal(0, 0.1, HIDDEN), Q.F32)
    if not tied:
        add("output.weight", rng.normal(0, 0.2, _shape("output", len(tokens))), Q.Q4_1)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return decoded
