"""Hybrid ranking over a SearchIndex: BM25 over the terms, cosine over the vectors, a weighted mix of the two."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from functions.http.validation import shown
from functions.search.index import SearchIndex, day_number, day_text

K1 = 1.2
B = 0.75
SEMANTIC_WEIGHT = 0.6
# The relevance cut-off: a row is a match when a query term occurs in it (raw BM25 above 0), or when its cosine is at
# least MIN_COSINE and stands SEMANTIC_MARGIN above the query's mean cosine over the candidates (embeddings of one
# model share a common direction, so every cosine is high: Ethayarajh 2019, "How Contextual are Contextualized Word
# Representations?").
MIN_COSINE = 0.5
SEMANTIC_MARGIN = 0.05
MARGIN_MIN_ROWS = 3  # fewer candidates with a vector: the floor alone decides
_BUCKETS = 1 << 16
_FEW_TERMS = 8


@dataclass(frozen=True)
class Filters:
    source: str | None = None
    day_from: int | None = None  # yyyymmdd, inclusive
    day_to: int | None = None  # yyyymmdd, inclusive

    @classmethod
    def parse(cls, source: str | None, date_from: str | None, date_to: str | None) -> Filters:
        """Query parameters source, from and to ('YYYY-MM-DD'); a bad one raises ValueError naming it."""
        bounds = {}
        for name, value in (("from", date_from), ("to", date_to)):
            try:
                bounds[name] = day_number(value) or None
            except ValueError:
                raise ValueError(f"{name} must be a date YYYY-MM-DD, got {shown(value)}") from None
        if bounds["from"] and bounds["to"] and bounds["from"] > bounds["to"]:
            raise ValueError(f"from ({date_from}) is after to ({date_to})")
        return cls(source=source or None, day_from=bounds["from"], day_to=bounds["to"])

    def mask(self, index: SearchIndex) -> np.ndarray:
        """Rows that pass (only rows whose document arrived); a row with an unknown day fails any date bound."""
        keep = index.has_document.copy()
        if self.source is not None:
            keep &= index.sources == self.source
        if self.day_from is not None:
            keep &= index.days >= self.day_from
        if self.day_to is not None:
            keep &= (index.days <= self.day_to) & (index.days > 0)
        return keep


@dataclass(frozen=True)
class Hit:
    summary_id: str
    source: str
    day: str | None  # "YYYY-MM-DD"
    score: float
    lexical: float  # BM25 relative to the best candidate, 0..1
    semantic: float | None  # cosine clamped to 0..1; None when the row or the query has no vector

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("score", "lexical", "semantic"):
            data[name] = None if data[name] is None else round(data[name], 6)
        return data


def search(
    index: SearchIndex,
    query_terms: list[int],
    query_vector: np.ndarray | None,
    k: int,
    filters: Filters,
    exclude: str | None = None,
    semantic_weight: float = SEMANTIC_WEIGHT,
) -> list[Hit]:
    """The k best rows for a query's terms (repeats weigh more) and, when it fits the index, its vector."""
    unique, counts = np.unique(np.asarray(query_terms, dtype=np.uint32), return_counts=True)
    return _rank(index, unique, counts.astype(np.float64), query_vector, k, filters, exclude, semantic_weight)


def similar(
    index: SearchIndex, summary_id: str, k: int, filters: Filters, semantic_weight: float = SEMANTIC_WEIGHT
) -> list[Hit]:
    """The k rows most like this summary: its own terms and counts, and its own vector if it has one."""
    row = index.position(summary_id)
    if row is None:
        raise KeyError(f"{summary_id} is not in the search index")
    terms, tfs = index.row_terms(row)
    vector = index.vectors[row] if index.has_vector[row] else None
    return _rank(index, terms, tfs.astype(np.float64), vector, k, filters, summary_id, semantic_weight)


def bm25(index: SearchIndex, terms: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Raw BM25 per row (0 where no term matches) for distinct sorted query terms weighted by their counts."""
    scores = np.zeros(len(index), dtype=np.float64)
    if not len(terms) or not len(index.terms):
        return scores
    entries = _matching_entries(index.terms, terms)
    if not len(entries):
        return scores
    which = np.searchsorted(terms, index.terms[entries])
    rows = np.searchsorted(index.term_ptr, entries, side="right") - 1
    documents = max(int(np.count_nonzero(index.has_document)), 1)
    average = max(float(index.doc_len[index.has_document].mean()), 1e-9) if index.has_document.any() else 1.0
    df = np.bincount(which, minlength=len(terms))
    idf = np.log1p((documents - df + 0.5) / (df + 0.5))
    tf = index.tfs[entries].astype(np.float64)
    norm = K1 * (1 - B + B * index.doc_len[rows] / average)
    return np.bincount(rows, weights=weights[which] * idf[which] * tf * (K1 + 1) / (tf + norm), minlength=len(index))


def _matching_entries(stored: np.ndarray, terms: np.ndarray) -> np.ndarray:
    """Positions of the stored entries equal to one of the distinct sorted query terms."""
    if len(terms) <= _FEW_TERMS:  # one comparison pass per term
        return np.flatnonzero(np.isin(stored, terms))
    # Bucket on the low 16 bits first: one table lookup per entry, an exact check only on the few candidates.
    table = np.zeros(_BUCKETS, dtype=bool)
    table[terms & (_BUCKETS - 1)] = True
    candidates = np.flatnonzero(table[stored & (_BUCKETS - 1)])
    which = np.minimum(np.searchsorted(terms, stored[candidates]), len(terms) - 1)
    return candidates[terms[which] == stored[candidates]]


def _semantic(index: SearchIndex, query_vector: np.ndarray | None) -> np.ndarray | None:
    """The query as a unit vector, or None when there is none or it cannot be compared with the index's vectors."""
    if query_vector is None or not index.dimensions or not index.has_vector.any():
        return None
    query = np.asarray(query_vector, dtype=np.float32).ravel()
    if query.size != index.dimensions:
        return None
    norm = float(np.linalg.norm(query))
    if not np.isfinite(norm) or norm == 0:
        raise ValueError("query vector must be finite and not all zeros")
    return query / norm


def _rank(
    index: SearchIndex,
    terms: np.ndarray,
    weights: np.ndarray,
    query_vector: np.ndarray | None,
    k: int,
    filters: Filters,
    exclude: str | None,
    semantic_weight: float,
) -> list[Hit]:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if not 0 <= semantic_weight <= 1:
        raise ValueError(f"semantic_weight must be between 0 and 1, got {semantic_weight}")
    candidates = filters.mask(index)
    if exclude is not None and (excluded := index.position(exclude)) is not None:
        candidates[excluded] = False
    rows = np.flatnonzero(candidates)
    if not len(rows):
        return []
    raw = bm25(index, terms, weights)[rows]
    relevant = raw > 0
    best = raw.max()
    lexical = raw / best if best > 0 else raw
    query = _semantic(index, query_vector)
    semantic = None
    score = lexical
    if query is not None:
        # Gather the candidate rows only when they are few; otherwise one product over every row is cheaper.
        cosine = index.vectors[rows] @ query if len(rows) < len(index) // 2 else (index.vectors @ query)[rows]
        semantic = np.clip(cosine.astype(np.float64), 0.0, 1.0)  # rows without a vector are zeros
        relevant |= semantic_match(cosine.astype(np.float64), index.has_vector[rows])
        score = semantic_weight * semantic + (1 - semantic_weight) * lexical
    score = np.where(relevant, score, 0.0)
    chosen = _top(index, rows, score, k)
    return [
        Hit(
            summary_id=str(index.ids[rows[i]]),
            source=str(index.sources[rows[i]]),
            day=day_text(index.days[rows[i]]),
            score=float(score[i]),
            lexical=float(lexical[i]),
            semantic=float(semantic[i]) if semantic is not None and index.has_vector[rows[i]] else None,
        )
        for i in chosen
    ]


def semantic_match(cosine: np.ndarray, has_vector: np.ndarray) -> np.ndarray:
    """Rows whose cosine passes the cut-off: at least MIN_COSINE and, among MARGIN_MIN_ROWS or more rows with a
    vector, at least SEMANTIC_MARGIN above their mean."""
    passed = has_vector & (cosine >= MIN_COSINE)
    if np.count_nonzero(has_vector) >= MARGIN_MIN_ROWS:
        passed &= cosine >= float(cosine[has_vector].mean()) + SEMANTIC_MARGIN
    return passed


def _top(index: SearchIndex, rows: np.ndarray, score: np.ndarray, k: int) -> np.ndarray:
    """Positions (into rows) of the k best positive scores, best first, ties by summary_id."""
    chosen = np.flatnonzero(score > 0)
    if len(chosen) > k:
        kth = score[chosen[np.argpartition(score[chosen], -k)[-k:]]].min()
        chosen = chosen[score[chosen] >= kth]  # every row tied with the k-th stays in until the id tie-break
    order = np.lexsort((index.ids[rows[chosen]], -score[chosen]))
    return chosen[order[:k]]
