"""SwiGLU on MLX's CPU build: the same function and gradient as mlx-lm's, installed once on the model's module."""

from __future__ import annotations

import sys

import mlx.core as mx
import mlx_lm
from mlx_lm.models.activations import swiglu as mlx_lm_swiglu

from edge_worker.activations import route_activations, swiglu


def _gates() -> mx.array:
    mx.random.seed(3)
    return mx.concatenate([mx.random.normal((4000,)) * 8, mx.array([-1e4, -200.0, -88.0, -20.0, 0.0, 20.0, 1e4])])


def test_swiglu_equals_mlx_lm_swiglu():
    gate = _gates()
    x = mx.random.normal(gate.shape)
    assert mx.allclose(swiglu(gate, x), mlx_lm_swiglu(gate, x), rtol=1e-6, atol=1e-30).item()


def test_swiglu_gradient_matches_and_stays_finite_for_very_negative_gates():
    gate = _gates()
    x = mx.random.normal(gate.shape)
    ours = mx.grad(lambda g: (swiglu(g, x) * x).sum())(gate)
    theirs = mx.grad(lambda g: (mlx_lm_swiglu(g, x) * x).sum())(gate)
    assert mx.isfinite(ours).all().item()
    assert mx.allclose(ours, theirs, rtol=1e-5, atol=1e-6).item()


def test_routed_model_gives_the_same_logits(tiny_model_dir):
    model, _ = mlx_lm.load(str(tiny_model_dir))
    module = sys.modules[type(model).__module__]
    previous = module.swiglu  # other tests' models may have routed it already
    module.swiglu = getattr(previous, "original", previous)
    tokens = mx.array([list(range(1, 30))])
    try:
        before = model(tokens)
        if mx.metal.is_available():  # Apple GPUs keep mlx-lm's
            assert not route_activations(model) and module.swiglu is mlx_lm_swiglu
            return
        assert route_activations(model) and route_activations(model)  # idempotent: routed once
        assert module.swiglu.original is mlx_lm_swiglu
        assert mx.allclose(model(tokens), before, atol=1e-4).item()
        half = _gates().astype(mx.float16)  # 2**x overflows float16 below -11: mlx-lm's function is kept
        assert mx.array_equal(module.swiglu(half, half), mlx_lm_swiglu(half, half)).item()
        assert mx.isfinite(mx.grad(lambda g: module.swiglu(g, mx.ones_like(g)).sum())(half)).all().item()
    finally:
        module.swiglu = previous
