"""Item-level scores of one generated document against its expected document.

Items are the entries of the document's root arrays. A generated item matches an expected one of the same array
when every key field agrees (edge_worker.quality.items): free text when the word sets of the two normalised texts
overlap by at least TEXT_MATCH (Jaccard), any other value when equal. Each item matches at most once (greedy, best
overlap first), so a repeated item counts against precision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edge_worker.quality.items import DATE_VALUE, ItemKeys, duplicate_count, normal_text, normal_value, top_level_items

TEXT_MATCH = 0.5


@dataclass(frozen=True)
class DocumentScore:
    """Counts for one document: items matched, generated and expected; matched items with a date in either
    version and those whose dates all equal; whether the generated document invented items where none were
    expected (None when some were); repeated items in the generated document."""

    matched: int
    predicted: int
    expected: int
    dated: int
    dates_exact: int
    invented: bool | None
    duplicates: int


def words_overlap(a: str, b: str) -> float:
    """Jaccard overlap of the word sets of two normalised texts (1.0 for two empty texts)."""
    left, right = set(normal_text(a).split()), set(normal_text(b).split())
    if not left and not right:
        return 1.0
    return len(left & right) / len(left | right)


def item_similarity(predicted: Any, expected: Any, fields: Sequence[str] | None) -> float | None:
    """How well a generated item matches an expected one under `fields` (None: the expected item's string
    fields), from TEXT_MATCH to 1.0; None when it does not match."""
    if not isinstance(expected, dict) or not isinstance(predicted, dict):
        return _value_similarity(predicted, expected)
    names = list(fields) if fields else [name for name, value in expected.items() if isinstance(value, str)]
    if not names:
        return 1.0 if normal_value(predicted) == normal_value(expected) else None
    scores = [_value_similarity(predicted.get(name), expected.get(name)) for name in names]
    return None if any(score is None for score in scores) else sum(scores) / len(scores)  # type: ignore[arg-type]


def _value_similarity(predicted: Any, expected: Any) -> float | None:
    if isinstance(predicted, str) and isinstance(expected, str) and not DATE_VALUE.match(expected):
        overlap = words_overlap(predicted, expected)
        return overlap if overlap >= TEXT_MATCH else None
    return 1.0 if normal_value(predicted) == normal_value(expected) else None


def match_items(predicted: list[Any], expected: list[Any], fields: Sequence[str] | None) -> list[tuple[int, int]]:
    """(generated index, expected index) pairs, one-to-one, best similarity first."""
    candidates = []
    for p, got in enumerate(predicted):
        for e, want in enumerate(expected):
            similarity = item_similarity(got, want, fields)
            if similarity is not None:
                candidates.append((-similarity, p, e))
    used_p, used_e, pairs = set(), set(), []
    for _, p, e in sorted(candidates):
        if p not in used_p and e not in used_e:
            used_p.add(p)
            used_e.add(e)
            pairs.append((p, e))
    return pairs


def date_leaves(value: Any, path: str = "") -> dict[str, Any]:
    """The leaves of `value` holding a date or date-time string, by path."""
    if isinstance(value, dict):
        return {k: v for name, item in value.items() for k, v in date_leaves(item, f"{path}.{name}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in date_leaves(item, f"{path}[{i}]").items()}
    return {path: value} if isinstance(value, str) and DATE_VALUE.match(value) else {}


def dates_equal(predicted: Any, expected: Any) -> bool | None:
    """Whether every date in either item is the same at the same place; None when neither holds a date."""
    got, want = date_leaves(predicted), date_leaves(expected)
    if not got and not want:
        return None
    return all(got.get(path) == want.get(path) for path in set(got) | set(want))


def score_document(predicted: Any, expected: Any, keys: ItemKeys) -> DocumentScore:
    """Match the items of each root array of `predicted` against those of `expected` (a JSON object each)."""
    got_arrays, want_arrays = top_level_items(predicted), top_level_items(expected)
    matched = dated = exact = 0
    for name in set(got_arrays) | set(want_arrays):
        got, want = got_arrays.get(name, []), want_arrays.get(name, [])
        for p, e in match_items(got, want, keys.fields(name)):
            matched += 1
            same = dates_equal(got[p], want[e])
            if same is not None:
                dated += 1
                exact += same
    predicted_items = sum(len(items) for items in got_arrays.values())
    expected_items = sum(len(items) for items in want_arrays.values())
    return DocumentScore(
        matched=matched,
        predicted=predicted_items,
        expected=expected_items,
        dated=dated,
        dates_exact=exact,
        invented=predicted_items > 0 if expected_items == 0 else None,
        duplicates=duplicate_count(predicted, keys),
    )


def prf(true_positives: int, predicted: int, expected: int) -> tuple[float, float, float]:
    """Precision, recall and F1; vacuous cases count as 1.0 (predicting nothing is precise, expecting nothing is
    fully recalled)."""
    precision = true_positives / predicted if predicted else 1.0
    recall = true_positives / expected if expected else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
