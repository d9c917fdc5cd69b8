"""Search snippets: the line with the most query terms, headings left out, highlights in code points."""

from __future__ import annotations

from functions.search.snippets import MAX_CHARS, snippet
from functions.search.text import terms

SUMMARY = """Overview
The user asked about lunch.
People
None.
Commitments
Book the dentist for Friday; dentists near the office open at nine.
明天和田中开会讨论预算"""


def marked(answer: dict) -> list[str]:
    return [answer["text"][start:end] for start, end in answer["highlights"]]


def test_the_line_with_most_query_terms_is_chosen_and_each_stemmed_match_marked():
    answer = snippet(SUMMARY, terms("dentist friday"))
    assert answer["text"].startswith("Book the dentist for Friday;")
    assert marked(answer) == ["dentist", "Friday", "dentists"]


def test_without_a_match_the_first_lines_that_are_not_headings_are_given():
    answer = snippet(SUMMARY, terms("blorft"))
    assert answer["highlights"] == [] and answer["text"].startswith("The user asked about lunch. Book the dentist")
    assert "Overview" not in answer["text"] and "None." not in answer["text"]


def test_a_word_inside_a_run_without_spaces_is_marked_where_it_is():
    answer = snippet(SUMMARY, terms("田中"))
    assert answer["text"] == "明天和田中开会讨论预算" and marked(answer) == ["田中"]


def test_offsets_count_code_points_and_a_long_line_is_cut_around_the_match():
    line = "😀 " * 200 + "the dentist called " + "x " * 200
    answer = snippet(line, terms("dentist"))
    assert len(answer["text"]) <= MAX_CHARS + 2 and answer["text"][0] == answer["text"][-1] == "…"
    assert marked(answer) == ["dentist"]  # Python str offsets: one per code point, emoji included
