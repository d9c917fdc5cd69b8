"""Exact cosine top-k over 100k unit vectors (numpy vs a pure-Python loop), then our ranking over a 100k-row index."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.progress import progress
from functions.search import ranking
from functions.search.index import IndexedDocument, SearchIndex
from functions.search.text import STOPWORDS, terms

VECTORS = 100_000
NAIVE_VECTORS = 10_000
DIMENSIONS = 384
TOP_K = 10
VOCABULARY = 5_000
WORDS_PER_ROW = 40
QUERY_WORDS = 3
NEAR_DUPLICATES = Path(__file__).with_name("near_duplicates.json")
RECALL_K = 5


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
    return {
        "vectors": vectors,
        "queries": len(times),
        "p50_ms": round(p50 * 1000, 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000, 3),
        "ns_per_vector": round(p50 / vectors * 1e9, 3),
    }


def _made_up_words(rng: np.random.Generator, count: int) -> list[str]:
    """Distinct pronounceable non-words (two to four syllables), none of them an English stopword."""
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    words: set[str] = set()
    while len(words) < count:
        word = "".join(rng.choice(syllables, size=rng.integers(2, 5)))
        if word not in STOPWORDS:
            words.add(word)
    return sorted(words)


def build_index(rng: np.random.Generator, rows: int = VECTORS) -> tuple[SearchIndex, list[str], np.ndarray]:
    """Rows of WORDS_PER_ROW words drawn Zipf-like from the made-up vocabulary, each with a random unit vector."""
    vocabulary = _made_up_words(rng, VOCABULARY)
    weights = 1 / np.arange(1, VOCABULARY + 1)
    weights /= weights.sum()
    drawn = rng.choice(VOCABULARY, size=(rows, WORDS_PER_ROW), p=weights)
    words = np.array(vocabulary)
    docs = [
        IndexedDocument(
            f"summary-{row:06d}",
            ("synapse", "planner", "nudge")[row % 3],
            f"2025-{1 + row % 12:02d}-{1 + row % 28:02d}",
            " ".join(words[drawn[row]]),
        )
        for row in range(rows)
    ]
    vectors = _unit_rows(rng, rows)
    index = SearchIndex.empty().with_documents(docs)
    index = index.with_vectors((doc.summary_id, "bench-model", vector) for doc, vector in zip(docs, vectors))
    return index, vocabulary, weights


def _our_ranking(rng: np.random.Generator, quick: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    progress(f"search: building our index of {VECTORS:,} rows ({WORDS_PER_ROW} words each, {DIMENSIONS}-d vectors)")
    started = time.perf_counter()
    index, vocabulary, weights = build_index(rng)
    built = time.perf_counter() - started
    started = time.perf_counter()
    data = index.to_bytes()
    saved = time.perf_counter() - started
    started = time.perf_counter()
    SearchIndex.from_bytes(data)
    loaded = time.perf_counter() - started
    count = 20 if quick else 200
    texts = [" ".join(rng.choice(vocabulary, size=QUERY_WORDS, p=weights)) for _ in range(count)]
    vectors = _unit_rows(rng, count)
    queries = list(zip([terms(text) for text in texts], vectors))
    filters = ranking.Filters()

    def timed(run_query, items) -> dict[str, Any]:
        for item in items[:2]:  # warm-up
            run_query(item)
        return _summary(_latencies(run_query, items), len(index))

    ours = {}
    progress("search: our ranking, semantic only")
    ours["semantic"] = timed(lambda q: ranking.search(index, [], q[1], TOP_K, filters), queries)
    progress("search: our ranking, hybrid")
    ours["hybrid"] = timed(lambda q: ranking.search(index, q[0], q[1], TOP_K, filters), queries)
    progress("search: our ranking, lexical only")
    ours["lexical"] = timed(lambda q: ranking.search(index, q[0], None, TOP_K, filters), queries)
    progress("search: our similar()")
    ours["similar"] = timed(
        lambda row: ranking.similar(index, str(index.ids[row]), TOP_K, filters),
        list(rng.integers(0, len(index), size=count)),
    )
    ours["semantic"]["same_top_k_as_numpy"] = all(
        [hit.summary_id for hit in ranking.search(index, [], q[1], TOP_K, filters)]
        == index.ids[top_k(index.vectors, q[1])].tolist()
        for q in queries[:5]
    )
    arrays = (
        index.ids,
        index.sources,
        index.days,
        index.doc_len,
        index.term_ptr,
        index.terms,
        index.tfs,
        index.vectors,
        index.has_vector,
    )
    info = {
        "rows": len(index),
        "entries": len(index.terms),
        "build_s": round(built, 2),
        "to_bytes_s": round(saved, 2),
        "from_bytes_s": round(loaded, 2),
        "mb": round(len(data) / 2**20, 1),
        "memory_mb": round(sum(array.nbytes for array in arrays) / 2**20, 1),
    }
    return ours, info


def labelled_index() -> tuple[SearchIndex, dict[str, Any]]:
    """bench/near_duplicates.json as a search index (words only), and the dataset itself."""
    dataset = json.loads(NEAR_DUPLICATES.read_text())
    index = SearchIndex.empty().with_documents(
        IndexedDocument(s["id"], s["source"], s["day"], s["text"]) for s in dataset["summaries"]
    )
    return index, dataset


def near_duplicate_recall(
    k: int = RECALL_K, index: SearchIndex | None = None, semantic_weight: float = ranking.SEMANTIC_WEIGHT
) -> dict[str, Any]:
    """Each member of a labelled group asks similar() for the rest of its group (words only unless `index` has vectors)."""
    labelled, dataset = labelled_index()
    index = index or labelled
    groups = [{key, *copies} for key, copies in dataset["duplicates"].items()]
    recalls, on_top = [], 0
    for group in groups:
        for member in sorted(group):
            relevant = group - {member}
            found = [
                hit.summary_id
                for hit in ranking.similar(index, member, k, ranking.Filters(), semantic_weight=semantic_weight)
            ]
            recalls.append(len(relevant & set(found)) / len(relevant))
            on_top += set(found[: len(relevant)]) == relevant
    return {
        "k": k,
        "summaries": len(index),
        "groups": len(groups),
        "queries": len(recalls),
        "recall": round(sum(recalls) / len(recalls), 3),
        "duplicates_on_top": round(on_top / len(recalls), 3),
    }


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
    ours, index_info = _our_ranking(rng, quick)
    return {
        "dimensions": DIMENSIONS,
        "top_k": TOP_K,
        "float32": float32,
        "float16": float16,
        "naive": naive,
        "float16_same_top_k": agree,
        "naive_matches_numpy": exact,
        "matrix_mb": {"float32": round(matrix.nbytes / 2**20), "float16": round(half.nbytes / 2**20)},
        "per_vector_ratio": round(naive["ns_per_vector"] / float32["ns_per_vector"], 1),
        "ours": ours,
        "index": index_info,
        "index_mb": index_info["mb"],
        "recall_at_5": near_duplicate_recall(),
    }


def render_rows(results: dict[str, Any]) -> list[str]:
    """Markdown for our ranking: latency per query kind, index size, and near-duplicate recall."""
    index, recall = results["index"], results["recall_at_5"]
    labels = {
        "semantic": "semantic (query vector only)",
        "hybrid": f"hybrid ({QUERY_WORDS} query words + vector, weight {ranking.SEMANTIC_WEIGHT:g} semantic)",
        "lexical": f"lexical (BM25, {QUERY_WORDS} query words)",
        "similar": f"similar() (a row's own {WORDS_PER_ROW}-word terms + vector)",
    }
    lines = [
        f"Our ranking (`functions.search.ranking`) over a SearchIndex of {index['rows']:,} rows: "
        f"{WORDS_PER_ROW} made-up words per row drawn Zipf-like from {VOCABULARY:,} "
        f"({index['entries']:,} term entries) and a random {results['dimensions']}-d unit vector, "
        f"no filters, top {results['top_k']}.",
        "",
        "| query | rows | queries | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, label in labels.items():
        if key in results["ours"]:
            row = results["ours"][key]
            lines.append(
                f"| {label} | {row['vectors']:,} | {row['queries']} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} |"
            )
    lines += [
        "",
        f"Index: built in {index['build_s']:.1f} s, {index['memory_mb']:.0f} MB in memory, "
        f"{index['mb']:.0f} MB as a compressed npz (vectors as float16), written in {index['to_bytes_s']:.1f} s "
        f"and read in {index['from_bytes_s']:.1f} s.",
        "",
        f"Near-duplicate recall@{recall['k']} with words only (`similar()` without vectors) on "
        f"bench/near_duplicates.json: {recall['recall']:.3f} over {recall['queries']} queries "
        f"({recall['groups']} groups of copies and paraphrases among {recall['summaries']} summaries); the "
        f"duplicates fill the top positions for {recall['duplicates_on_top']:.0%} of the queries.",
    ]
    return lines
