"""Exact cosine top-k over 100k unit vectors with numpy, vs a pure-Python loop (for later similarity search)."""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from bench.progress import progress

VECTORS = 100_000
NAIVE_VECTORS = 10_000
DIMENSIONS = 384
TOP_K = 10


def _unit_rows(rng: np.random.Generator, count: int) -> np.ndarray:
    rows = rng.standard_normal((count, DIMENSIONS), dtype=np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


def top_k(matrix: np.ndarray, query: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """Indices of the k most similar rows, best first (rows and query are unit vectors)."""
    scores = matrix @ query.astype(matrix.dtype, copy=False)
    best = np.argpartition(scores, -k)[-k:]
    return best[np.argsort(scores[best])[::-1]]


def naive_top_k(rows: list[list[float]], query: list[float], k: int = TOP_K) -> list[int]:
    scores = []
    for index, row in enumerate(rows):
        score = 0.0
        for a, b in zip(row, query):
            score += a * b
        scores.append((score, index))
    scores.sort(reverse=True)
    return [index for _, index in scores[:k]]


def _latencies(search, queries: np.ndarray) -> list[float]:
    times = []
    for query in queries:
        started = time.perf_counter()
        search(query)
        times.append(time.perf_counter() - started)
    return times


def _summary(times: list[float], vectors: int) -> dict[str, Any]:
    ordered = sorted(times)
    p50 = statistics.median(ordered)
    return {"vectors": vectors, "queries": len(times), "p50_ms": round(p50 * 1000, 3),
            "p99_ms": round(ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000, 3),
            "ns_per_vector": round(p50 / vectors * 1e9, 3)}


def run(quick: bool) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    progress(f"search: {VECTORS:,} x {DIMENSIONS} random unit vectors")
    matrix = _unit_rows(rng, VECTORS)
    queries = _unit_rows(rng, 50 if quick else 300)
    half = matrix.astype(np.float16)
    for query in queries[:3]:  # warm-up
        top_k(matrix, query)
    progress("search: numpy float32")
    float32 = _summary(_latencies(lambda q: top_k(matrix, q), queries), VECTORS)
    progress("search: numpy float16 storage")
    float16 = _summary(_latencies(lambda q: top_k(half, q), queries[: 10 if quick else 30]), VECTORS)
    agree = all(set(top_k(matrix, q)) == set(top_k(half, q)) for q in queries[:10])
    progress(f"search: pure-Python loop over {NAIVE_VECTORS:,} vectors")
    rows = matrix[:NAIVE_VECTORS].tolist()
    naive_queries = queries[: 2 if quick else 5]
    naive = _summary(_latencies(lambda q: naive_top_k(rows, q.tolist()), naive_queries), NAIVE_VECTORS)
    exact = all(naive_top_k(rows, q.tolist()) == top_k(matrix[:NAIVE_VECTORS], q).tolist() for q in naive_queries[:1])
    return {"dimensions": DIMENSIONS, "top_k": TOP_K, "float32": float32, "float16": float16, "naive": naive,
            "float16_same_top_k": agree, "naive_matches_numpy": exact,
            "matrix_mb": {"float32": round(matrix.nbytes / 2**20), "float16": round(half.nbytes / 2**20)},
            "per_vector_ratio": round(naive["ns_per_vector"] / float32["ns_per_vector"], 1)}
