"""Scaled dot-product attention for MLX's CPU build, the same result as mlx-lm's several times faster here.

On a CPU, MLX computes exp one element at a time (about 19 ns each on this machine, numpy about 1.5 ns), so the
softmax over a prompt's scores is most of a prefill: 8 of the 9.4 s a 461-token summary takes after a 2,169-token
cached prefix with SmolLM2-135M. Here the matmuls stay in MLX and the softmax (mask, maximum, exp, sum) runs in
numpy, one synchronization per layer (numpy's own matmuls would run on BLAS threads of their own, contending with
MLX's), a large part's rows shared out over the cores. Query heads share their key-value head without a copy
(grouped-query attention folded into the matmul's rows).

A batch whose rows share a cached prompt prefix (edge_worker.constrained.shared_prefix) is attended in two parts,
the shared prefix once for all rows and each row's own tokens, on every device (`shared_prefix_attention`). A step
that feeds its rows different numbers of tokens comes packed (`Packing`): the prefix and the model's matmuls see its
tokens only, no row padded to the longest.

`route_attention(model)` installs this on the model's mlx-lm module. Calls without a KV cache (LoRA training needs
gradients), with a quantized KV cache or with attention sinks go to mlx-lm's own function, and so does every other
call on an Apple GPU.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import mlx.core as mx
import numpy as np

LOG2E = 1.4426950408889634
SOFTMAX_THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
SPLIT_MIN = 1 << 18  # scores a softmax splits over its threads (a thread's hand-off costs tens of microseconds)
UNSHIFTED_LIMIT = 64.0  # parts whose maximum score is within ±this need no shift: e**score and 2**score stay normal


def _new_pool() -> ThreadPoolExecutor | None:
    return ThreadPoolExecutor(SOFTMAX_THREADS, "softmax") if SOFTMAX_THREADS > 1 else None


def _renew_pool_in_child() -> None:
    """A forked child has none of the pool's threads, while the pool counts them and would never run its work."""
    global _POOL
    _POOL = _new_pool()


_POOL = _new_pool()
os.register_at_fork(after_in_child=_renew_pool_in_child)
Attention = Callable[..., mx.array]
Part = tuple[mx.array, Any, tuple[int, int, int]]  # scores (B, kv_heads, heads/kv_heads * L, keys), mask, (B, heads, L)


@dataclass(frozen=True, eq=False)
class Packing:
    """A step's T tokens, row after row, in the (rows, width) slots of the rows' KV cache: a row feeding fewer than
    `width` fills its last slots, its first are pads. `slots` (T,): each token's slot, row * width + column;
    `sources` (rows * width,): the token each slot takes its key and value from (a pad: its row's first, masked)."""

    rows: int
    width: int
    slots: mx.array
    sources: mx.array

    @classmethod
    def of(cls, lengths: list[int]) -> Packing:
        """Rows feeding lengths[b] >= 1 tokens, in slots as wide as the longest."""
        width = max(lengths)
        slots = np.concatenate([row * width + width - n + np.arange(n) for row, n in enumerate(lengths)])
        sources = np.repeat(np.cumsum([0, *lengths[:-1]]), width)
        sources[slots] = np.arange(len(slots))
        return cls(len(lengths), width, mx.array(slots), mx.array(sources))

    @classmethod
    def dense(cls, rows: int, width: int) -> Packing:
        """Every slot a token (no pads)."""
        every = mx.arange(rows * width)
        return cls(rows, width, every, every)

    def to_slots(self, packed: mx.array) -> mx.array:
        """(T, heads, 1, D) -> (rows, heads, width, D)."""
        slotted = mx.take(packed[:, :, 0, :], self.sources, axis=0)  # (rows * width, heads, D)
        return slotted.reshape(self.rows, self.width, *slotted.shape[1:]).transpose(0, 2, 1, 3)

    def to_tokens(self, slotted: mx.array) -> mx.array:
        """(rows, heads, width, x) -> (T, heads, x), the pads left out."""
        rows, heads, width, last = slotted.shape
        return mx.take(slotted.transpose(0, 2, 1, 3).reshape(rows * width, heads, last), self.slots, axis=0)


def route_attention(model: Any) -> bool:
    """Route the attention of `model`'s mlx-lm module through this module; False when that module has none.

    Idempotent; the module's own function stays the fallback (`original`)."""
    module = sys.modules.get(type(model).__module__)
    current = getattr(module, "scaled_dot_product_attention", None)
    if current is None:
        return False
    if getattr(current, "original", None) is None:
        module.scaled_dot_product_attention = _routed(current, cpu=not mx.metal.is_available())  # type: ignore[union-attr]
    return True


def routes(model: Any) -> bool:
    """True when `model`'s attention goes through this module (a SharedPrefixBatchCache needs it)."""
    module = sys.modules.get(type(model).__module__)
    return getattr(getattr(module, "scaled_dot_product_attention", None), "original", None) is not None


def _routed(original: Attention, cpu: bool) -> Attention:
    def routed(queries: mx.array, keys: Any, values: Any, cache: Any, scale: float, mask: Any, sinks: Any = None):
        if cache is None or sinks is not None or hasattr(cache, "bits"):
            return original(queries, keys, values, cache=cache, scale=scale, mask=mask, sinks=sinks)
        if hasattr(cache, "prefix_keys"):
            prefix, packing = (cache.prefix_keys, cache.prefix_values), getattr(cache, "packing", None)
            return shared_prefix_attention(queries, keys, values, *prefix, scale, mask, cpu, packing)
        if cpu:
            return attention(queries, keys, values, scale, mask)
        return original(queries, keys, values, cache=cache, scale=scale, mask=mask, sinks=sinks)

    routed.original = original  # type: ignore[attr-defined]
    return routed


def attention(queries: mx.array, keys: mx.array, values: mx.array, scale: float, mask: Any) -> mx.array:
    """softmax(scale * q k^T + mask) v, shaped like `queries`, with the softmax in numpy for float32.

    queries (B, heads, L, D); keys and values (B, kv_heads, T, D) with heads a multiple of kv_heads; mask None,
    "causal" (query i sees keys up to T - L + i) or an array broadcastable to (B, heads, L, T), boolean (True:
    attend) or additive."""
    batch, heads, length, _ = queries.shape
    softmax, base = _softmax_for(queries.dtype == mx.float32)
    scores = _folded(queries, scale, keys.shape[1], base) @ keys.swapaxes(-1, -2)
    [weights], [total], _ = softmax([(scores, mask, (batch, heads, length))])
    return ((weights @ values) / total).reshape(queries.shape).astype(queries.dtype)


def shared_prefix_attention(
    queries: mx.array,
    keys: mx.array,
    values: mx.array,
    prefix_keys: mx.array,
    prefix_values: mx.array,
    scale: float,
    mask: Any,
    cpu: bool = False,
    packing: Packing | None = None,
) -> mx.array:
    """Attention over a shared prefix followed by each row's own keys, as `attention` over their concatenation.

    prefix_keys and prefix_values (1, kv_heads, P, D), seen by every query; keys and values (B, kv_heads, S, D) the
    rows' own, under `mask` as in `attention` over (B, heads, L, S). queries (B, heads, L, D), or with `packing`
    (T, heads, 1, D): one a token, in the (B, L) slots it gives, and so shaped is the result. Each part is
    softmaxed on its own and the two merged by their maxima and sums (as FlashAttention merges blocks), so the
    prefix is read once for all queries (Hydragen, Juravsky et al., 2024). cpu: the softmaxes in numpy."""
    if packing is None:
        batch, heads, length, dim = queries.shape
        packed = queries.transpose(0, 2, 1, 3).reshape(batch * length, heads, 1, dim)
        out = shared_prefix_attention(
            packed, keys, values, prefix_keys, prefix_values, scale, mask, cpu, Packing.dense(batch, length)
        )
        return out.reshape(batch, length, heads, dim).transpose(0, 2, 1, 3)
    tokens, heads, _, dim = queries.shape
    kv_heads = keys.shape[1]
    softmax, base = _softmax_for(cpu and queries.dtype == mx.float32)
    own = _folded(packing.to_slots(queries), scale, kv_heads, base) @ keys.swapaxes(-1, -2)
    in_line = queries.reshape(1, tokens, heads, dim).transpose(0, 2, 1, 3)  # the tokens as one row's (1, heads, T, D)
    shared = _folded(in_line, scale, kv_heads, base) @ prefix_keys.swapaxes(-1, -2)
    weights, sums, tops = softmax(
        [(own, mask, (packing.rows, heads, packing.width)), (shared, None, (1, heads, tokens))]
    )

    def own_part(x: mx.array) -> mx.array:  # (rows, kv_heads, heads/kv_heads * width, x) -> (T, heads, x)
        return packing.to_tokens(x.reshape(packing.rows, heads, packing.width, -1))

    def shared_part(x: mx.array) -> mx.array:  # (1, kv_heads, heads/kv_heads * T, x) -> (T, heads, x)
        return x.reshape(heads, tokens, -1).swapaxes(0, 1)

    outs = [own_part(weights[0] @ values), shared_part(weights[1] @ prefix_values)]
    totals = [own_part(sums[0]), shared_part(sums[1])]
    if tops is not None:  # each part was shifted by its own maximum: rescale both to the larger
        top = [own_part(tops[0]), shared_part(tops[1])]
        common = mx.maximum(*top)
        factors = [mx.power(base, part - common) for part in top]
        outs = [out * factor for out, factor in zip(outs, factors, strict=True)]
        totals = [total * factor for total, factor in zip(totals, factors, strict=True)]
    return ((outs[0] + outs[1]) / (totals[0] + totals[1]))[:, :, None, :].astype(queries.dtype)


def _softmax_for(numpy: bool) -> tuple[Callable[[list[Part]], Any], float]:
    """The softmax to run (`_softmax_numpy` when `numpy`, else `_softmax_mlx`) and the base of its exponent.

    numpy's float32 exp is vectorized where its exp2 may not be (AVX2 here: 1.8 against 5.4 ns an element);
    MLX's CPU build computes 2**x about 3x faster than its exp."""
    return (_softmax_numpy, math.e) if numpy else (_softmax_mlx, 2.0)


def _folded(queries: mx.array, scale: float, kv_heads: int, base: float) -> mx.array:
    """(B, heads, L, D) queries, scaled for scores in `base` (e or 2), as (B, kv_heads, heads/kv_heads * L, D): the
    query heads of one key-value head are rows of one matmul (grouped-query attention without copying keys)."""
    batch, heads, length, dim = queries.shape
    factor = scale if base == math.e else scale * LOG2E
    return (queries * factor).reshape(batch, kv_heads, heads // kv_heads * length, dim)


def _softmax_numpy(parts: list[Part]) -> tuple[list[mx.array], list[mx.array], list[mx.array] | None]:
    """Unnormalized softmax weights (base e) of each part's scores, their sums (B, kv_heads, rows, 1) and, when the
    parts were shifted, the maxima they were shifted by (None: not shifted, a pass fewer).

    Softmax is shift-invariant, so no maximum is subtracted while every part's lies within ±UNSHIFTED_LIMIT (rows
    whose keys are all masked aside). The weights are written over the evaluated scores through numpy views of
    their buffers (no copy either way): the scores are fresh matmul outputs, read by nothing else. Large parts
    are split by rows over SOFTMAX_THREADS (numpy's ufuncs release the GIL)."""
    mx.eval(*(scores for scores, _, _ in parts), *(mask for _, mask, _ in parts if isinstance(mask, mx.array)))
    views = []
    for scores, mask, shape in parts:
        view = np.asarray(scores)  # writable: MLX's own buffer
        _mask_numpy(view.reshape(*shape, -1), mask)
        views.append(view)
    tops = [_by_rows(view, lambda rows: rows.max(-1, keepdims=True)) for view in views]
    seen = np.concatenate([top[top > -np.inf] for top in tops])
    shift = seen.size and not -UNSHIFTED_LIMIT < seen.min() <= seen.max() < UNSHIFTED_LIMIT
    sums = []
    for view, top in zip(views, tops, strict=True):
        if shift:
            np.copyto(top, 0.0, where=top == -np.inf)
        sums.append(mx.array(_by_rows(view, _exp_sum, top if shift else None)))
    return [scores for scores, _, _ in parts], sums, [mx.array(top) for top in tops] if shift else None


def _exp_sum(rows: np.ndarray, top: np.ndarray | None = None) -> np.ndarray:
    """exp(rows - top) written over rows (keys last), and its sums (rows, 1)."""
    if top is not None:
        np.subtract(rows, top, out=rows)
    np.exp(rows, out=rows)
    return rows.sum(-1, keepdims=True)


def _by_rows(view: np.ndarray, work: Callable[..., np.ndarray], per_row: np.ndarray | None = None) -> np.ndarray:
    """work(rows[, per_row's rows]) -> (rows, 1) over the rows of `view` (..., keys), a share on each softmax
    thread when it holds SPLIT_MIN elements or more; shaped (..., 1)."""
    flat = np.reshape(view, (-1, view.shape[-1]), copy=False)  # raises rather than work on a copy
    extra = () if per_row is None else (per_row.reshape(-1, 1),)
    if _POOL is None or flat.size < SPLIT_MIN:
        return work(flat, *extra).reshape(*view.shape[:-1], 1)
    bounds = np.linspace(0, len(flat), SOFTMAX_THREADS + 1).astype(int)
    shares = [slice(start, stop) for start, stop in itertools.pairwise(bounds)]
    done = _POOL.map(lambda rows: work(flat[rows], *(array[rows] for array in extra)), shares)
    return np.concatenate(list(done)).reshape(*view.shape[:-1], 1)


def _mask_numpy(scores: np.ndarray, mask: Any) -> None:
    """Set to -inf in place what `mask` (as in `attention`) hides of scores (B, heads, L, keys)."""
    if isinstance(mask, str):
        length, keys = scores.shape[-2:]
        np.copyto(scores[..., keys - length :], -np.inf, where=np.triu(np.ones((length, length), np.bool_), 1))
    elif mask is not None:
        limit = np.asarray(mask)
        if limit.dtype == np.bool_:
            np.copyto(scores, -np.inf, where=~limit)
        else:
            scores += limit


def _softmax_mlx(parts: list[Part]) -> tuple[list[mx.array], list[mx.array], list[mx.array]]:
    """As `_softmax_numpy`, in MLX and base 2, every part shifted by its maximum."""
    weights, sums, tops = [], [], []
    for scores, mask, shape in parts:
        masked = scores.reshape(*shape, -1)
        if isinstance(mask, str):
            length, keys = masked.shape[-2:]
            later = mx.arange(keys)[None, :] > (mx.arange(length)[:, None] + (keys - length))
            masked = mx.where(later, -mx.inf, masked)
        elif mask is not None:
            masked = mx.where(mask, masked, -mx.inf) if mask.dtype == mx.bool_ else masked + mask * LOG2E
        masked = masked.reshape(scores.shape)
        top = masked.max(-1, keepdims=True)
        weights.append(mx.power(2.0, masked - top))  # 2**x: about 3x faster than exp on MLX's CPU build
        sums.append(weights[-1].sum(-1, keepdims=True))
        tops.append(top)
    return weights, sums, tops
