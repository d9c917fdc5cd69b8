"""Attention on MLX's CPU build and over a shared prefix: the same result as MLX's own scaled dot-product attention
for every shape and mask mlx-lm passes, and gradients still flow where mlx-lm trains."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import mlx.core as mx
import mlx.nn as nn
import mlx_lm
import numpy as np
import pytest
from mlx.utils import tree_flatten

from edge_worker import attention as attention_module
from edge_worker.attention import attention, route_attention, routes, shared_prefix_attention

HEADS, KV_HEADS, DIM = 6, 2, 16


def _arrays(batch: int, queries: int, keys: int, seed: int) -> tuple[mx.array, mx.array, mx.array]:
    mx.random.seed(seed)
    q = mx.random.normal((batch, HEADS, queries, DIM))
    k = mx.random.normal((batch, KV_HEADS, keys + 7, DIM))[..., :keys, :]  # a view, as a KV cache returns
    v = mx.random.normal((batch, KV_HEADS, keys + 7, DIM))[..., :keys, :]
    return q, k, v


def _left_padding(batch: int, queries: int, keys: int) -> mx.array:
    """(batch, 1, queries, keys) booleans: row b cannot see its first b keys (mlx-lm's BatchKVCache mask)."""
    starts = mx.arange(batch)[:, None, None, None]
    later = mx.arange(keys)[None, :] > (mx.arange(queries)[:, None] + keys - queries)
    return (mx.arange(keys)[None, None, None, :] >= starts) & ~later[None, None]


@pytest.fixture(params=["one thread", "rows split"])
def softmax_threads(request, monkeypatch):
    """The numpy softmax as it runs on small scores, or with every part's rows split over three threads (as large
    parts are on a machine with three cores)."""
    if request.param == "rows split":
        pool = ThreadPoolExecutor(3)
        monkeypatch.setattr(attention_module, "SPLIT_MIN", 1)
        monkeypatch.setattr(attention_module, "SOFTMAX_THREADS", 3)
        monkeypatch.setattr(attention_module, "_POOL", pool)
        yield request.param
        pool.shutdown()
    else:
        monkeypatch.setattr(attention_module, "SPLIT_MIN", 1 << 62)
        yield request.param


@pytest.mark.parametrize("magnitude", [1.0, 30.0])  # 30: scores far past UNSHIFTED_LIMIT, the maximum subtracted
@pytest.mark.parametrize("queries", [1, 5, 70])
@pytest.mark.parametrize("mask", ["none", "causal", "boolean", "additive"])
def test_attention_equals_mlx_fast_attention(queries, mask, magnitude, softmax_threads):
    batch, keys = 3, 90
    q, k, v = _arrays(batch, queries, keys, seed=queries)
    q = q * magnitude
    given = {
        "none": None,
        "causal": "causal",
        "boolean": _left_padding(batch, queries, keys),
        "additive": mx.where(_left_padding(batch, queries, keys), 0.0, -1e9) + mx.random.normal((1, 1, queries, keys)),
    }[mask]
    expected = mx.fast.scaled_dot_product_attention(q, k, v, scale=0.3, mask=given)
    assert mx.allclose(attention(q, k, v, 0.3, given), expected, atol=1e-5 * magnitude).item()


def test_attention_leaves_its_inputs_as_they_were():
    """The softmax is written over the scores' own buffers, never over the queries, keys, values or mask."""
    q, k, v = _arrays(2, 4, 30, seed=11)
    mask = _left_padding(2, 4, 30)
    kept = [mx.array(a) + 0 for a in (q, k, v, mask)]
    mx.eval(kept)
    attention(q, k, v, 0.3, mask)
    shared_prefix_attention(q, k, v, k[:1], v[:1], 0.3, mask, cpu=True)
    assert all(mx.array_equal(a, b).item() for a, b in zip((q, k, v, mask), kept, strict=True))


@pytest.mark.parametrize("magnitude", [1.0, 30.0])
@pytest.mark.parametrize("cpu", [False, True])
@pytest.mark.parametrize("queries", [1, 3, 40])
def test_shared_prefix_attention_equals_attention_over_the_whole_rows(cpu, queries, magnitude, softmax_threads):
    batch, shared, own = 4, 50, 40
    q, k, v = _arrays(batch, queries, shared + own, seed=7)
    q = q * mx.array([1.0, magnitude, 1.0, 1.0])[:, None, None, None]  # one row needs the shift, the others not
    prefix_keys, prefix_values = k[:1, :, :shared], v[:1, :, :shared]
    whole_keys = mx.concatenate([mx.broadcast_to(prefix_keys, (batch, KV_HEADS, shared, DIM)), k[:, :, shared:]], 2)
    whole_values = mx.concatenate([mx.broadcast_to(prefix_values, (batch, KV_HEADS, shared, DIM)), v[:, :, shared:]], 2)
    if queries == 1:  # decoding: left padding in the rows' own part
        own_mask = _left_padding(batch, 1, own)
        whole_mask = mx.concatenate([mx.ones((batch, 1, 1, shared), mx.bool_), own_mask], -1)
    else:
        own_mask = whole_mask = "causal"
    expected = mx.fast.scaled_dot_product_attention(q, whole_keys, whole_values, scale=0.25, mask=whole_mask)
    got = shared_prefix_attention(
        q, k[:, :, shared:], v[:, :, shared:], prefix_keys, prefix_values, 0.25, own_mask, cpu=cpu
    )
    assert mx.allclose(got, expected, atol=1e-5 * magnitude).item()


def test_routed_attention_leaves_training_to_mlx_lm(tiny_model_dir):
    """LoRA training calls attention without a KV cache and needs gradients, which numpy cannot give."""
    model, _ = mlx_lm.load(str(tiny_model_dir))
    assert route_attention(model) and route_attention(model)  # idempotent
    assert routes(model)
    tokens = mx.array([list(range(1, 41))])

    def loss(params):
        model.update(params)
        logits = model(tokens[:, :-1])
        return nn.losses.cross_entropy(logits, tokens[:, 1:]).mean()

    value, grads = mx.value_and_grad(loss)(model.trainable_parameters())
    mx.eval(value, grads)
    assert mx.isfinite(value).item()
    assert any(mx.abs(g).sum().item() > 0 for _, g in tree_flatten(grads))


def test_a_forked_child_splits_its_softmax_over_threads_of_its_own(monkeypatch):
    monkeypatch.setattr(attention_module, "SPLIT_MIN", 1)
    monkeypatch.setattr(attention_module, "SOFTMAX_THREADS", 2)
    pool = ThreadPoolExecutor(2)
    monkeypatch.setattr(attention_module, "_POOL", pool)
    rows = np.random.default_rng(0).random((8, 16), dtype=np.float32)
    expected = np.exp(rows).sum(-1, keepdims=True)
    list(pool.map(time.sleep, [0.05] * 4))  # both of the pool's threads start here, and then wait idle
    child = os.fork()
    if child == 0:
        try:
            sums = attention_module._by_rows(rows.copy(), attention_module._exp_sum)
            os._exit(0 if np.allclose(sums, expected, rtol=1e-5) else 1)
        except BaseException:
            os._exit(2)
    deadline = time.monotonic() + 30
    while (ended := os.waitpid(child, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if ended[0] == 0:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    assert ended[0] == child and os.waitstatus_to_exitcode(ended[1]) == 0, "the child's softmax never finished"
