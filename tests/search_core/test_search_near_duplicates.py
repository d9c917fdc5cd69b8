"""similar() on words alone finds the labelled copies and paraphrases in bench/near_duplicates.json."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from functions.search.index import IndexedDocument, SearchIndex
from functions.search.ranking import Filters, similar

DATASET = Path(__file__).resolve().parents[2] / "bench" / "near_duplicates.json"
K = 5
MIN_RECALL = 0.9


@pytest.fixture(scope="module")
def dataset() -> dict:
    return json.loads(DATASET.read_text())


@pytest.fixture(scope="module")
def index(dataset) -> SearchIndex:
    return SearchIndex.empty().with_documents(
        IndexedDocument(s["id"], s["source"], s["day"], s["text"]) for s in dataset["summaries"]
    )


def _queries(dataset: dict) -> list[tuple[str, set[str]]]:
    """Every member of a labelled group asks for the rest of its group."""
    groups = [{key, *copies} for key, copies in dataset["duplicates"].items()]
    return [(member, group - {member}) for group in groups for member in sorted(group)]


def _recall(queries: list[tuple[str, set[str]]], ranked: Callable[[str], list[str]]) -> float:
    return sum(len(relevant & set(ranked(query)[:K])) / len(relevant) for query, relevant in queries) / len(queries)


def test_the_dataset_is_labelled_consistently(dataset):
    ids = [s["id"] for s in dataset["summaries"]]
    assert len(ids) == len(set(ids)) >= 50
    labelled = [i for key, copies in dataset["duplicates"].items() for i in (key, *copies)]
    assert len(dataset["duplicates"]) >= 12 and set(labelled) <= set(ids) and len(labelled) == len(set(labelled))
    text = {s["id"]: s["text"] for s in dataset["summaries"]}
    assert all(text[c] == text[c.removesuffix("-copy")] for c in labelled if c.endswith("-copy"))
    assert all(text[p] != text[p.removesuffix("-para")] for p in labelled if p.endswith("-para"))
    assert {s["source"] for s in dataset["summaries"]} == {"synapse", "planner", "nudge"}


def test_exact_copies_come_first_at_full_lexical_score(dataset, index):
    text = {s["id"]: s["text"] for s in dataset["summaries"]}
    for query, relevant in _queries(dataset):
        copies = {i for i in relevant if text[i] == text[query]}
        if copies:
            hits = similar(index, query, K, Filters())
            assert {hit.summary_id for hit in hits[: len(copies)]} == copies, query
            assert all(hit.lexical == 1.0 for hit in hits[: len(copies)]), query


def test_lexical_recall_at_5_of_copies_and_paraphrases(dataset, index):
    queries = _queries(dataset)

    def ranked(summary_id: str) -> list[str]:
        return [hit.summary_id for hit in similar(index, summary_id, K, Filters())]

    recall = _recall(queries, ranked)
    on_top = sum({h for h in ranked(q)[: len(relevant)]} == relevant for q, relevant in queries) / len(queries)
    ids = [s["id"] for s in dataset["summaries"]]
    shuffled = _recall(queries, lambda q: random.Random(q).sample([i for i in ids if i != q], K))
    print(
        f"\nnear duplicates, lexical similar(): recall@{K} {recall:.3f} over {len(queries)} queries; "
        f"duplicates fill the top positions for {on_top:.0%}; a random ranking scores {shuffled:.3f}"
    )
    assert shuffled < MIN_RECALL / 2  # the measure can fail
    assert recall >= MIN_RECALL and on_top >= MIN_RECALL


def test_filters_and_k_hold_for_similar(dataset, index):
    hits = similar(index, "s01", 2, Filters(source="nudge"))
    assert hits[0].summary_id == "s01-para" and all(hit.source == "nudge" for hit in hits)
    assert len(hits) == 2
    september = similar(index, "s34", K, Filters.parse(None, "2025-09-01", "2025-09-30"))
    assert all("2025-09-01" <= hit.day <= "2025-09-30" for hit in september)
    assert not {"s34-copy", "s34-para"} & {hit.summary_id for hit in september}
