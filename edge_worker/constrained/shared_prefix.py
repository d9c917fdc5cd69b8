"""A decoding batch whose rows share one cached prompt prefix: its KV cache is held once, not once per row.

Every row of a backfill starts from the same system prefix (about 2,200 tokens for the shipped systems), and a row
of mlx-lm's BatchKVCache holds its own copy of it, so each decoding step reads the prefix's keys and values once per
row. Here the batch keeps only each row's own tokens (a BatchKVCache, left-padded) and attention reads the prefix
once for all rows (edge_worker.attention: `shared_prefix_attention`), the decomposition of Hydragen (Juravsky et
al., 2024, "Hydragen: High-Throughput LLM Inference with Shared Prefixes").

A step may feed a row several tokens (`pad_rows`): a row with fewer than the step's width is padded on the left of
its chunk, and those slots ("holes") stay masked from then on. `packed_step` gives the model that step's tokens
packed, one after another (edge_worker.attention.Packing): only the keys and values it stores, the rows' own
attention and the mask see the slots, so the model's matmuls and the prefix's attention skip the pads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mlx.core as mx
import numpy as np
from mlx_lm.models.cache import BatchKVCache, KVCache

from edge_worker.attention import Packing


@dataclass(frozen=True, eq=False)
class SharedPrefix:
    """The cache (one KVCache per layer, never written) whose first `length` tokens a sequence's cache starts with."""

    cache: list[Any]
    length: int


class SharedPrefixBatchCache(BatchKVCache):
    """One layer of a batch: the shared prefix's keys and values (1, kv_heads, P, head_dim) and each row's own.

    `offset` counts the prefix too (rotary positions); `keys_and_values()` and the mask cover the rows' own tokens.
    `holes` (rows, slots): True where a slot holds a pad of `pad_rows` (None: none); slots past its width hold none.
    """

    def __init__(self, left_padding: list[int], prefix_keys: mx.array, prefix_values: mx.array) -> None:
        super().__init__(left_padding)
        self.prefix_keys = prefix_keys
        self.prefix_values = prefix_values
        self.holes: np.ndarray | None = None

    @classmethod
    def of_rows(cls, prefix: Any, length: int, rows: list[Any]) -> SharedPrefixBatchCache:
        """The batch of `rows` (KVCaches each holding `prefix`'s first `length` tokens, then its own)."""
        keys, values = prefix_arrays(prefix, length)
        return cls.of_own(keys, values, BatchKVCache.merge([own_tokens(row, length) for row in rows]))

    @classmethod
    def of_own(cls, prefix_keys: mx.array, prefix_values: mx.array, own: Any) -> SharedPrefixBatchCache:
        """The batch of the rows of `own` (a BatchKVCache of their tokens after the prefix) under the prefix's keys
        and values."""
        cache = cls(own.left_padding.tolist(), prefix_keys, prefix_values)
        cache.keys, cache.values, cache._idx = own.keys, own.values, own._idx
        cache.offset = own.offset + prefix_keys.shape[2]
        return cache

    def pad_rows(self, padding: list[int], width: int) -> None:
        """Before a step of `width` tokens a row, of which row b's first padding[b] are pads: their slots are masked
        from now on, and the row's rotary offset moves back by its pads so its real tokens keep their positions."""
        holes = self._holes(self._idx + width)
        for row, pad in enumerate(padding):
            holes[row, self._idx : self._idx + pad] = True
        self.holes = holes
        self.offset = self.offset - mx.array(padding)

    def make_mask(self, N: int, return_array: bool = False, **kwargs: Any) -> Any:
        mask = super().make_mask(N, return_array=return_array, **kwargs)
        if self.holes is None:
            return mask
        return mask & mx.array(~self._holes(self._idx + N))[:, None, None, :]

    def filter(self, batch_indices: Any) -> None:
        before, holes = self._idx, self.holes
        super().filter(batch_indices)
        if holes is not None:
            holes = holes[np.asarray(batch_indices)][:, before - self._idx :]
            self.holes = holes if holes.any() else None

    def extend(self, other: BatchKVCache) -> None:
        """Add `other`'s rows (mlx-lm's extend: both right-aligned at the longer one's length), holes included."""
        before = [(getattr(cache, "holes", None), cache._idx, cache.offset.shape[0]) for cache in (self, other)]
        super().extend(other)
        if all(holes is None for holes, _, _ in before):
            return
        parts = []
        for holes, idx, rows in before:
            aligned = np.zeros((rows, self._idx), np.bool_)
            if holes is not None:
                width = min(idx, holes.shape[1])
                aligned[:, self._idx - idx : self._idx - idx + width] = holes[:, :width]
            parts.append(aligned)
        self.holes = np.concatenate(parts)

    def place(self, index: int, own: KVCache) -> None:
        """Give row `index` (its sequence done) to `own`, a KVCache of another row's n tokens after the prefix, in
        place: right-aligned at `_idx` like every row, the slot's old tokens masked as its left padding.

        Raises ValueError when n > `_idx` (the row does not fit without widening the batch: `extend` it instead).
        """
        n = own.offset
        if n > self._idx:
            raise ValueError(f"a row of {n} tokens does not fit a batch of {self._idx} slots")
        start = self._idx - n
        if n:
            assert self.keys is not None and self.values is not None  # _idx >= n > 0: slots were written
            self.keys[index : index + 1, :, start : self._idx, :] = own.keys
            self.values[index : index + 1, :, start : self._idx, :] = own.values
        self.left_padding[index] = start
        self.offset[index] = self.prefix_keys.shape[2] + n
        if self.holes is not None:
            self.holes[index] = False

    def extract(self, idx: int) -> KVCache:
        """Row `idx` as a KVCache of its own, the prefix included and its holes left out."""
        row = super().extract(idx)
        if self.holes is not None:
            kept = mx.array(np.flatnonzero(~self._holes(self._idx)[idx, self._idx - row.offset :]))
            row.keys, row.values = mx.take(row.keys, kept, axis=2), mx.take(row.values, kept, axis=2)
        cache = KVCache()
        cache.keys = mx.concatenate([self.prefix_keys, row.keys], axis=2)
        cache.values = mx.concatenate([self.prefix_values, row.values], axis=2)
        cache.offset = cache.keys.shape[2]
        return cache

    def _holes(self, slots: int) -> np.ndarray:
        """`holes` over the first `slots` slots (a new array)."""
        holes = np.zeros((self.offset.shape[0], slots), np.bool_)
        if self.holes is not None:
            width = min(slots, self.holes.shape[1])
            holes[:, :width] = self.holes[:, :width]
        return holes


class PackedStep:
    """One layer's cache as the model sees it in a packed step (`packed_step`): the step's tokens are a batch of T
    rows of one token each at `offset` (T,), their rotary positions; their keys and values go to their slots of the
    SharedPrefixBatchCache, and attention gets its `packing` and its prefix."""

    def __init__(self, cache: SharedPrefixBatchCache, packing: Packing, offset: mx.array) -> None:
        self.cache, self.packing, self.offset = cache, packing, offset
        self.prefix_keys, self.prefix_values = cache.prefix_keys, cache.prefix_values

    def make_mask(self, N: int, return_array: bool = False, **kwargs: Any) -> Any:
        """The rows' own mask over the step's slots (rows, 1, width, own keys), whatever N (1 in a packed step)."""
        return self.cache.make_mask(self.packing.width, return_array=True, **kwargs)

    def update_and_fetch(self, keys: mx.array, values: mx.array) -> tuple[mx.array, mx.array]:
        return self.cache.update_and_fetch(self.packing.to_slots(keys), self.packing.to_slots(values))


def packed_step(cache: list[SharedPrefixBatchCache], lengths: list[int]) -> list[PackedStep]:
    """The cache, a PackedStep per layer, for one forward pass feeding row b its next lengths[b] >= 1 tokens, the
    inputs (T, 1) those tokens row after row; the rows are padded to the longest (`pad_rows`) first."""
    packing = Packing.of(lengths)
    padding = [packing.width - length for length in lengths]
    if any(padding):
        for layer in cache:
            layer.pad_rows(padding, packing.width)
    slots = packing.slots
    positions = mx.take(cache[0].offset, slots // packing.width) + slots % packing.width
    return [PackedStep(layer, packing, positions) for layer in cache]


def prefix_arrays(prefix: Any, length: int) -> tuple[mx.array, mx.array]:
    """The first `length` keys and values (1, kv_heads, length, D) of one layer's prefix cache, as arrays of their
    own (a batch reads them every step)."""
    return mx.contiguous(prefix.keys[..., :length, :]), mx.contiguous(prefix.values[..., :length, :])


def own_tokens(row: Any, start: int) -> KVCache:
    """A KVCache of `row`'s tokens from `start` on, in arrays of their own: once evaluated, the row's cache can go.

    Not mlx-lm's one-row `BatchKVCache.merge`: with no padding its update covers the whole output, and MLX then
    shares the update's buffer, so the "copy" would keep the row's whole cache alive."""
    cache = KVCache()
    cache.keys = mx.contiguous(row.keys[..., start : row.offset, :])
    cache.values = mx.contiguous(row.values[..., start : row.offset, :])
    cache.offset = row.offset - start
    return cache
