"""Search embeddings on the edge: pooled final hidden states of a local MLX model, L2-normalised."""

from __future__ import annotations

from typing import Any, Literal

import mlx.core as mx
import numpy as np

from schemas.lineage import content_version

Pooling = Literal["mean", "last"]
MAX_TOKENS = 512


class Embedder:
    """A dedicated embedding model (e.g. a Qwen3-Embedding export: pooling "last") or the translator's own model.

    Runs the transformer body without the LM head, pools its hidden states over the text's tokens.
    """

    def __init__(
        self, model: Any, tokenizer: Any, model_info: Any, pooling: Pooling = "mean", max_tokens: int = MAX_TOKENS
    ) -> None:
        if pooling not in ("mean", "last"):
            raise ValueError(f"pooling must be mean or last, not {pooling!r}")
        self.model, self.tokenizer, self.model_info = model, tokenizer, model_info
        self.pooling, self.max_tokens = pooling, max_tokens
        self.dims = int(self._hidden([tokenizer.eos_token_id or 0]).shape[-1])
        self.version = content_version("embedding-model", self.registry_content())

    def registry_content(self) -> dict[str, Any]:
        return {
            **self.model_info.registry_content(),
            "method": "hidden-state pooling",
            "pooling": self.pooling,
            "max_tokens": self.max_tokens,
            "dims": self.dims,
        }

    def _hidden(self, tokens: list[int]) -> mx.array:
        body = getattr(self.model, "model", None)
        if body is None:
            raise TypeError(f"{type(self.model).__name__} has no transformer body (.model) to take hidden states from")
        return body(mx.array(tokens)[None])[0]  # (tokens, hidden)

    def embed(self, text: str) -> list[float]:
        tokens = self.tokenizer.encode(text, add_special_tokens=False)[: self.max_tokens]
        if not tokens:
            raise ValueError("nothing to embed: the text has no tokens")
        hidden = self._hidden(tokens).astype(mx.float32)
        pooled = hidden.mean(axis=0) if self.pooling == "mean" else hidden[-1]
        norm = mx.linalg.norm(pooled)
        vector = pooled / mx.maximum(norm, 1e-12)
        mx.eval(vector)
        return np.asarray(vector, dtype=np.float64).tolist()  # Python floats, via the array's buffer
