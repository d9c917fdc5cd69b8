"""Ranking: BM25 and cosine mixed by weight, filters, exclusion, k, ties, and similar()."""

from __future__ import annotations

import numpy as np
import pytest

from functions.search.index import IndexedDocument, SearchIndex
from functions.search.ranking import Filters, Hit, bm25, search, similar
from functions.search.text import terms

ALL = Filters()
DOCS = [
    ("dentist", "nudge", "2025-09-06", "Book the dentist for Friday at nine, the tooth still hurts"),
    ("dentist-kid", "planner", "2025-10-14", "Took Leo to the dentist for a check-up"),
    ("budget", "planner", "2025-09-01", "Send Priya the revised budget spreadsheet before the budget review"),
    ("hiking", "synapse", "2025-07-02", "Plan a hiking trip to the Alps in July with Sam and Lea"),
    ("groceries", "synapse", None, "Buy groceries on the way home: milk, eggs, bread and coffee"),
]


def _index(docs=DOCS) -> SearchIndex:
    return SearchIndex.empty().with_documents(IndexedDocument(i, s, d, t) for i, s, d, t in docs)


def _ids(hits: list[Hit]) -> list[str]:
    return [hit.summary_id for hit in hits]


def test_filters_parse_dates_and_name_a_bad_parameter():
    assert Filters.parse("planner", "2025-09-01", "2025-09-30") == Filters("planner", 20250901, 20250930)
    assert Filters.parse(None, None, "") == Filters() and Filters.parse("", None, None).source is None
    with pytest.raises(ValueError, match=r"^from must be a date YYYY-MM-DD, got '2025-9-1'$"):
        Filters.parse(None, "2025-9-1", None)
    with pytest.raises(ValueError, match=r"^to must be a date YYYY-MM-DD, got '2025-02-30'$"):
        Filters.parse(None, None, "2025-02-30")
    with pytest.raises(ValueError, match="from .2025-10-01. is after to .2025-09-01."):
        Filters.parse(None, "2025-10-01", "2025-09-01")


def test_lexical_search_ranks_by_bm25_relative_to_the_best_hit():
    hits = search(_index(), terms("dentist tooth"), None, 10, ALL)
    assert _ids(hits) == ["dentist", "dentist-kid"]
    assert hits[0].score == hits[0].lexical == 1.0 and 0 < hits[1].lexical < 1 and hits[1].semantic is None
    assert hits[0].to_dict() == {
        "summary_id": "dentist",
        "source": "nudge",
        "day": "2025-09-06",
        "score": 1.0,
        "lexical": 1.0,
        "semantic": None,
    }


def test_rows_that_match_nothing_are_not_returned():
    assert search(_index(), terms("marathon"), None, 10, ALL) == []
    assert search(_index(), [], None, 10, ALL) == []
    assert search(SearchIndex.empty(), terms("dentist"), None, 10, ALL) == []


def test_a_repeated_query_term_and_a_rarer_term_weigh_more():
    index = _index(
        [
            ("a", "nudge", None, "budget budget review"),
            ("b", "nudge", None, "budget review review"),
            ("c", "nudge", None, "unrelated words here"),
        ]
    )
    assert _ids(search(index, terms("budget budget review"), None, 10, ALL))[0] == "a"
    assert _ids(search(index, terms("budget review review"), None, 10, ALL))[0] == "b"
    raw = bm25(index, np.unique(np.array(terms("budget unrelated"), dtype=np.uint32)), np.ones(2))
    assert raw[index.position("c")] > raw[index.position("a")] > 0  # "unrelated" is in one document, budget in two


def test_source_and_date_filters_apply_before_ranking_and_unknown_days_fail_date_bounds():
    index = _index()
    query = terms("dentist budget groceries hiking")
    assert set(_ids(search(index, query, None, 10, Filters(source="planner")))) == {"dentist-kid", "budget"}
    in_september = Filters.parse(None, "2025-09-01", "2025-09-30")
    assert set(_ids(search(index, query, None, 10, in_september))) == {"dentist", "budget"}
    assert set(_ids(search(index, query, None, 10, Filters.parse(None, "2025-10-14", None)))) == {"dentist-kid"}
    assert "groceries" not in _ids(search(index, query, None, 10, Filters.parse(None, None, "2030-01-01")))
    assert "groceries" in _ids(search(index, query, None, 10, ALL))
    only_kid = search(index, terms("dentist"), None, 10, Filters(source="planner"))
    assert _ids(only_kid) == ["dentist-kid"] and only_kid[0].lexical == 1.0  # normalised among the candidates


def test_exclude_drops_one_id_and_k_limits_with_ties_broken_by_id():
    index = _index([(name, "nudge", None, "same words") for name in ("c", "a", "d", "b")])
    assert _ids(search(index, terms("same words"), None, 3, ALL)) == ["a", "b", "c"]
    assert _ids(search(index, terms("same words"), None, 3, ALL, exclude="b")) == ["a", "c", "d"]
    assert _ids(search(index, terms("same words"), None, 10, ALL, exclude="missing")) == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="k must be at least 1"):
        search(index, terms("same"), None, 0, ALL)


def _hybrid_index() -> SearchIndex:
    """'lexical' matches the query words best; 'semantic' has the vector closest to the query vector."""
    index = _index(
        [
            ("lexical", "nudge", None, "marathon training plan marathon"),
            ("semantic", "nudge", None, "a long run on Sunday for the training plan"),
            ("no-vector", "nudge", None, "marathon training"),
        ]
    )
    return index.with_vectors([("lexical", "m1", [0.2, 1.0, 0.0]), ("semantic", "m1", [1.0, 0.1, 0.0])])


def test_the_semantic_weight_moves_the_ranking_between_lexical_and_semantic_order():
    index, query = _hybrid_index(), terms("marathon training plan")
    vector = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    assert _ids(search(index, query, vector, 3, ALL, semantic_weight=0.0))[0] == "lexical"
    assert _ids(search(index, query, vector, 3, ALL, semantic_weight=1.0)) == ["semantic", "lexical"]
    hits = {hit.summary_id: hit for hit in search(index, query, vector, 3, ALL, semantic_weight=0.6)}
    assert _ids(search(index, query, vector, 3, ALL, semantic_weight=0.6))[0] == "semantic"
    for hit in hits.values():
        assert hit.score == pytest.approx(0.6 * (hit.semantic or 0) + 0.4 * hit.lexical)
    assert hits["semantic"].semantic == pytest.approx(1 / np.hypot(1.0, 0.1), abs=1e-6)
    assert hits["lexical"].lexical == 1.0 and hits["no-vector"].semantic is None


def test_negative_cosine_counts_as_zero():
    index = _hybrid_index()
    hits = search(index, terms("marathon"), np.array([-1.0, -1.0, 0.0]), 3, ALL)
    assert all(hit.semantic in (0.0, None) for hit in hits)


def test_a_query_vector_of_another_dimension_or_an_index_without_vectors_means_lexical_only():
    query = terms("marathon training plan")
    for index, vector in ((_hybrid_index(), np.ones(5)), (_index(DOCS), np.ones(3))):
        hits = search(index, query, vector, 3, ALL)
        assert all(hit.semantic is None and hit.score == hit.lexical for hit in hits)
    with pytest.raises(ValueError, match="query vector"):
        search(_hybrid_index(), query, np.zeros(3), 3, ALL)


def test_a_query_with_only_a_vector_ranks_by_cosine_above_the_floor():
    hits = search(_hybrid_index(), [], np.array([1.0, 0.0, 0.0]), 3, ALL)
    assert _ids(hits) == ["semantic"] and all(hit.lexical == 0 for hit in hits)  # 'lexical' has cosine 0.2
    hits = search(_hybrid_index(), [], np.array([1.0, 1.0, 0.0]), 3, ALL)  # cosines 0.83 and 0.77
    assert _ids(hits) == ["lexical", "semantic"]


def test_rows_whose_document_has_not_arrived_are_never_returned():
    index = _hybrid_index().with_vectors([("pending", "m1", [1.0, 0.0, 0.0])])
    assert "pending" not in _ids(search(index, [], np.array([1.0, 0.0, 0.0]), 10, ALL))
    assert _ids(similar(index, "pending", 3, ALL))[0] == "semantic"  # its own vector still works as a query


def test_similar_uses_the_rows_terms_and_vector_and_leaves_it_out():
    index = _hybrid_index()
    hits = {hit.summary_id: hit for hit in similar(index, "lexical", 5, ALL)}
    assert set(hits) == {"no-vector", "semantic"} and hits["semantic"].semantic == pytest.approx(
        float(index.vectors[index.position("lexical")] @ index.vectors[index.position("semantic")]), abs=1e-6
    )
    assert _ids(similar(index, "lexical", 5, ALL, semantic_weight=1.0)) == ["semantic"]
    assert _ids(similar(index, "lexical", 5, ALL, semantic_weight=0.0)) == ["no-vector", "semantic"]
    assert _ids(similar(index, "no-vector", 5, ALL))[0] == "lexical"
    assert all(hit.semantic is None for hit in similar(index, "no-vector", 5, ALL))
    with pytest.raises(KeyError, match="missing"):
        similar(index, "missing", 5, ALL)


def test_a_new_embedding_version_leaves_only_its_own_vectors_in_the_ranking():
    index = _hybrid_index().with_vectors([("no-vector", "m2", [0.0, 1.0])])
    hits = {hit.summary_id: hit for hit in search(index, terms("marathon training"), np.array([0.0, 1.0]), 3, ALL)}
    assert hits["no-vector"].semantic == pytest.approx(1.0)
    assert hits["lexical"].semantic is None and hits["semantic"].semantic is None


def test_bm25_of_a_long_query_is_the_sum_over_its_terms():
    rng = np.random.default_rng(3)
    words = [f"word{i}" for i in range(60)]
    index = _index(
        [(f"d{i}", "nudge", None, " ".join(rng.choice(words, size=rng.integers(1, 30)))) for i in range(200)]
    )
    query = np.unique(np.array(terms(" ".join(words[:25])), dtype=np.uint32))
    weights = rng.integers(1, 4, size=len(query)).astype(np.float64)
    whole = bm25(index, query, weights)
    parts = sum(bm25(index, query[i : i + 1], weights[i : i + 1]) for i in range(len(query)))
    assert len(query) == 25 and whole.max() > 0 and np.allclose(whole, parts)


CJK = [
    ("tanaka-budget", "planner", "2025-01-10", "会议上与田中讨论了明年的预算，田中同意了"),
    ("tamura-weather", "planner", "2025-01-11", "与田村讨论了天气和周末的计划"),
    ("tanaka-budget-ja", "synapse", "2025-01-12", "田中さんと来年の予算について話した"),
    ("english", "nudge", "2025-01-13", "Budget review with Priya on Thursday"),
]


def test_words_without_spaces_rank_by_their_character_pairs():
    index = _index(CJK)
    assert _ids(search(index, terms("田中"), None, 10, ALL)) == ["tanaka-budget", "tanaka-budget-ja"]
    assert _ids(search(index, terms("田中 预算"), None, 10, ALL))[0] == "tanaka-budget"
    assert _ids(search(index, terms("预算"), None, 10, ALL)) == ["tanaka-budget"]  # 予算 is written otherwise
    assert _ids(search(index, terms("budget"), None, 10, ALL)) == ["english"]


def test_similar_summaries_in_a_script_without_spaces_find_each_other():
    index = _index([*CJK, ("tanaka-again", "planner", "2025-01-14", "田中再次提到了预算的问题")])
    assert _ids(similar(index, "tanaka-again", 2, ALL))[0] == "tanaka-budget"


def test_a_summary_is_a_lexical_match_when_a_query_term_occurs_in_it():
    index = _index([(f"d{i}", "nudge", None, f"the user planned topic{i}") for i in range(12)])
    assert len(search(index, terms("user"), None, 20, ALL)) == 12  # in every summary: still a match in each
    assert _ids(search(index, terms("blorft topic3"), None, 20, ALL)) == ["d3"]
    assert _ids(search(index, terms("blorft"), None, 20, ALL)) == []


def test_a_semantic_match_must_stand_out_from_the_models_common_direction():
    # Every vector leans on one direction (cosines 0.8-0.9 with anything): none stands out for this query.
    rows = [(f"d{i}", "nudge", None, f"note {i}") for i in range(6)]
    index = _index(rows).with_vectors([(f"d{i}", "m1", [1.0, 0.3 + 0.05 * i, 0.2]) for i in range(6)])
    assert _ids(search(index, [], np.array([1.0, 0.45, 0.2]), 5, ALL)) == []
    # One row near the query and far from the rest passes both the floor and the margin.
    index = index.with_vectors([("d5", "m1", [0.0, 0.0, 1.0])])
    assert _ids(search(index, [], np.array([0.0, 0.1, 1.0]), 5, ALL)) == ["d5"]
