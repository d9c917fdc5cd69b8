"""A decoding batch whose rows share one cached prompt prefix: its KV cache is held once, not once per row.

Every row of a backfill starts from the same system prefix (about 2,200 tokens for the shipped systems), and a row
of mlx-lm's BatchKVCache holds its own copy of it, so each decoding step reads the prefix's keys and values once per
row. Here the batch keeps only each row's own tokens (a BatchKVCache, left-padded) and attention reads the prefix
once for all rows (edge_worker.attention: `shared_prefix_attention`), the decomposition of Hydragen (Juravsky et
al., 2024, "Hydragen: High-Throughput LLM Inference with Shared Prefixes").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mlx.core as mx
from mlx_lm.models.cache import BatchKVCache, KVCache


@dataclass(frozen=True, eq=False)
class SharedPrefix:
    """The cache (one KVCache per layer, never written) whose first `length` tokens a sequence's cache starts with."""

    cache: list[Any]
    length: int


class SharedPrefixBatchCache(BatchKVCache):
    """One layer of a batch: the shared prefix's keys and values (1, kv_heads, P, head_dim) and each row's own.

    `offset` counts the prefix too (rotary positions); `keys_and_values()` and the mask cover the rows' own tokens.
    """

    def __init__(self, left_padding: list[int], prefix_keys: mx.array, prefix_values: mx.array) -> None:
        super().__init__(left_padding)
        self.prefix_keys = prefix_keys
        self.prefix_values = prefix_values

    @classmethod
    def of_rows(cls, prefix: Any, length: int, rows: list[Any]) -> SharedPrefixBatchCache:
        """The batch of `rows` (KVCaches each holding `prefix`'s first `length` tokens, then its own)."""
        own = [_tail(row, length) for row in rows]
        merged = BatchKVCache.merge(own)
        keys = mx.contiguous(prefix.keys[..., :length, :])
        values = mx.contiguous(prefix.values[..., :length, :])
        cache = cls(merged.left_padding.tolist(), keys, values)
        cache.keys, cache.values, cache._idx = merged.keys, merged.values, merged._idx
        cache.offset = merged.offset + length
        return cache

    def extract(self, idx: int) -> KVCache:
        """Row `idx` as a KVCache of its own, the prefix included."""
        row = super().extract(idx)
        cache = KVCache()
        cache.keys = mx.concatenate([self.prefix_keys, row.keys], axis=2)
        cache.values = mx.concatenate([self.prefix_values, row.values], axis=2)
        cache.offset = cache.keys.shape[2]
        return cache


def _tail(row: Any, start: int) -> KVCache:
    """A KVCache of the row's tokens from `start` on."""
    cache = KVCache()
    cache.keys = row.keys[..., start : row.offset, :]
    cache.values = row.values[..., start : row.offset, :]
    cache.offset = row.offset - start
    return cache
