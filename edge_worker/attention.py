"""Scaled dot-product attention for MLX's CPU build, the same result as mlx-lm's several times faster here.

On a CPU, MLX computes exp one element at a time (about 19 ns each on this machine, numpy about 1.5 ns), so the
softmax over a prompt's scores is most of a prefill: 8 of the 9.4 s a 461-token summary takes after a 2,169-token
cached prefix with SmolLM2-135M. Here the matmuls stay in MLX and the softmax (mask, maximum, exp, sum) runs in
numpy, one synchronization per layer (numpy's own matmuls would run on BLAS threads of their own, contending with
MLX's). Query heads share their key-value head without a copy (grouped-query attention folded into the matmul's
rows).

A batch whose rows share a cached prompt prefix (edge_worker.constrained.shared_prefix) is attended in two parts,
the shared prefix once for all rows and each row's own tokens, on every device (`shared_prefix_attention`).

`route_attention(model)` installs this on the model's mlx-lm module. Calls without a KV cache (LoRA training needs
gradients), with a quantized KV cache or with attention sinks go to mlx-lm's own function, and so does every other
call on an Apple GPU.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import mlx.core as mx
import numpy as np

LOG2E = 1.4426950408889634
UNSHIFTED_LIMIT = 64.0  # rows whose maximum score (base 2) is within ±this need no shift: 2**score stays normal

Attention = Callable[..., mx.array]


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
            prefix_keys, prefix_values = cache.prefix_keys, cache.prefix_values
            return shared_prefix_attention(queries, keys, values, prefix_keys, prefix_values, scale, mask, cpu)
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
    return _attend(queries, keys, values, scale, mask, None, cpu=True)


def shared_prefix_attention(
    queries: mx.array,
    keys: mx.array,
    values: mx.array,
    prefix_keys: mx.array,
    prefix_values: mx.array,
    scale: float,
    mask: Any,
    cpu: bool = False,
) -> mx.array:
    """Attention over a shared prefix followed by each row's own keys, as `attention` over their concatenation.

    prefix_keys and prefix_values (1, kv_heads, P, D), seen by every query; keys and values (B, kv_heads, S, D) the
    rows' own, under `mask` as in `attention`. Both parts' scores are exponentiated against their common maximum
    and their weighted sums added, so the prefix is read once for all B rows (Hydragen, Juravsky et al., 2024).
    cpu: the softmax in numpy, as in `attention`; else all in MLX."""
    return _attend(queries, keys, values, scale, mask, (prefix_keys, prefix_values), cpu)


def _attend(q: mx.array, k: mx.array, v: mx.array, scale: float, mask: Any, prefix: Any, cpu: bool) -> mx.array:
    batch, heads, length, dim = q.shape
    kv_heads = k.shape[1]
    rows = heads // kv_heads * length  # query heads of one key-value head, folded into the matmul's rows
    folded = (q * (scale * LOG2E)).reshape(batch, kv_heads, rows, dim)  # scores in base 2
    scores = [folded @ k.swapaxes(-1, -2)]  # (batch, kv_heads, rows, S)
    if prefix is not None:  # every row's queries in one matmul; its scores stay (kv_heads, batch, rows, P)
        stacked = folded.transpose(1, 0, 2, 3).reshape(1, kv_heads, batch * rows, dim)
        scores.append((stacked @ prefix[0].swapaxes(-1, -2)).reshape(kv_heads, batch, rows, -1))
    softmax = _softmax_numpy if cpu and q.dtype == mx.float32 else _softmax_mlx
    weights, total = softmax(scores, mask, (batch, heads, length))
    out = weights[0] @ v
    if prefix is not None:
        common = weights[1].reshape(1, kv_heads, batch * rows, -1) @ prefix[1]
        out = out + common.reshape(kv_heads, batch, rows, dim).transpose(1, 0, 2, 3)
    return (out / total).reshape(batch, heads, length, dim).astype(q.dtype)


def _softmax_numpy(scores: list[mx.array], mask: Any, shape: tuple[int, int, int]) -> tuple[list[mx.array], mx.array]:
    """Unnormalized base-2 softmax weights of the score parts and their common sum (batch, kv_heads, rows, 1).

    scores: the rows' own (batch, kv_heads, rows, S), under `mask` (as in `attention`, over `shape`'s (batch,
    heads, length)), then the shared prefix's (kv_heads, batch, rows, P) if any. Softmax is shift-invariant, so
    the rows' maximum is only subtracted when one lies outside ±UNSHIFTED_LIMIT (a pass fewer). The weights are
    written over the evaluated scores through numpy views of their buffers (no copy either way): the score arrays
    are fresh matmul outputs of `_attend`, read by nothing else before they are returned."""
    mx.eval(*scores, *([mask] if isinstance(mask, mx.array) else []))
    own, *shared = [np.asarray(part) for part in scores]  # writable views of MLX's buffers
    masked = own.reshape(*shape, -1)
    if isinstance(mask, str):
        length, keys = masked.shape[-2:]
        np.copyto(masked[..., keys - length :], -np.inf, where=np.triu(np.ones((length, length), np.bool_), 1))
    elif mask is not None:
        limit = np.asarray(mask)
        if limit.dtype == np.bool_:
            np.copyto(masked, -np.inf, where=~limit)
        else:
            masked += limit * np.float32(LOG2E)
    top = np.maximum.reduce(
        [own.max(-1, keepdims=True), *(part.max(-1, keepdims=True).swapaxes(0, 1) for part in shared)]
    )
    shift = not -UNSHIFTED_LIMIT < top.min() <= top.max() < UNSHIFTED_LIMIT
    total = np.zeros_like(top)
    for part, part_top in [(own, top), *((part, top.swapaxes(0, 1)) for part in shared)]:
        if shift:
            np.subtract(part, part_top, out=part)
        np.exp2(part, out=part)
        sums = part.sum(-1, keepdims=True)
        total += sums if part is own else sums.swapaxes(0, 1)
    return scores, mx.array(total)


def _softmax_mlx(scores: list[mx.array], mask: Any, shape: tuple[int, int, int]) -> tuple[list[mx.array], mx.array]:
    """As `_softmax_numpy`, in MLX."""
    own, *shared = scores
    masked = own.reshape(*shape, -1)
    if isinstance(mask, str):
        length, keys = masked.shape[-2:]
        later = mx.arange(keys)[None, :] > (mx.arange(length)[:, None] + (keys - length))
        masked = mx.where(later, -mx.inf, masked)
    elif mask is not None:
        masked = mx.where(mask, masked, -mx.inf) if mask.dtype == mx.bool_ else masked + mask * LOG2E
    own = masked.reshape(own.shape)
    top = own.max(-1, keepdims=True)
    for part in shared:
        top = mx.maximum(top, part.max(-1, keepdims=True).swapaxes(0, 1))
    weights = [mx.power(2.0, own - top)]  # 2**x: about 3x faster than exp on MLX's CPU build
    weights += [mx.power(2.0, part - top.swapaxes(0, 1)) for part in shared]
    total = weights[0].sum(-1, keepdims=True)
    for part in weights[1:]:
        total = total + part.sum(-1, keepdims=True).swapaxes(0, 1)
    return weights, total
