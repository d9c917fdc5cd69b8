"""Search terms: tokens, stopwords, the light stemmer and hashes that are the same in every process."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from functions.search.snippets import snippet
from functions.search.text import stem, terms, tokens

ROOT = Path(__file__).resolve().parents[2]


def test_tokens_are_lowercase_words_without_stopwords_possessives_or_single_characters():
    assert tokens("The user's Q3 budget review with Priya's team: 3 copies, don't forget!") == [
        "user",
        "q3",
        "budget",
        "review",
        "priya",
        "team",
        "copies",
        "forget",
    ]
    assert tokens("Lucía suggested the subjunctive") == ["lucía", "suggested", "subjunctive"]
    assert tokens("") == [] and tokens("it is what it is, and so on") == []


def test_composed_and_decomposed_accents_are_one_word_and_a_snippet_marks_either():
    decomposed = "Meet Jose\u0301 at the cafe\u0301 in Zu\u0308rich"  # as macOS file names and some keyboards write it
    assert terms(decomposed) == terms("Meet José at the café in Zürich")
    assert set(terms("josé zürich")) <= set(terms(decomposed))
    found = snippet(decomposed, terms("josé"))
    [[start, end]] = found["highlights"]
    assert found["text"][start:end] == "José"


@pytest.mark.parametrize(
    "words",
    [
        ("meeting", "meetings", "meet", "Meet"),
        ("run", "runs", "running"),
        ("plan", "plans", "planned", "planning"),
        ("book", "booked", "booking", "books"),
        ("share", "shared", "sharing"),
        ("study", "studies", "studied", "studying"),
        ("movie", "movies"),
        ("family", "families"),
        ("box", "boxes"),
        ("quick", "quickly"),
        ("write", "writes", "writing"),
        ("day", "days"),
    ],
)
def test_forms_of_one_word_share_a_term(words):
    assert len({tuple(terms(word)) for word in words}) == 1, {word: stem(word.lower()) for word in words}


@pytest.mark.parametrize("word", ["need", "bus", "tennis", "class", "speed", "thing", "spring", "add", "status"])
def test_short_or_irregular_words_are_not_mangled_into_another_word(word):
    assert stem(word) in (word, word.rstrip("e"))


def test_different_words_keep_different_terms():
    assert len(set(terms("dentist doctor budget meeting marathon"))) == 5


def test_terms_are_crc32_of_the_stem_and_repeat_with_the_text():
    assert terms("meetings about meetings") == [zlib.crc32(b"meet")] * 2
    assert all(0 <= term < 2**32 for term in terms("Budget review with finance on Thursday"))


def test_terms_are_the_same_in_another_process_with_another_hash_seed():
    code = "from functions.search.text import terms; print(terms('The dentist appointment on Friday'))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(terms("The dentist appointment on Friday"))


@pytest.mark.parametrize(
    "text, query",
    [
        ("会议上与田中讨论了预算", "田中"),  # Chinese: no spaces between words
        ("会议上与田中讨论了预算", "预算"),
        ("田中さんと来年の予算について話した", "予算"),  # Japanese: kanji and kana
        ("田中さんと来年の予算について話した", "田中さん"),
        ("チームのミーティングは金曜日", "ミーティング"),  # katakana
        ("ประชุมงบประมาณกับคุณทานากะ", "งบประมาณ"),  # Thai: no spaces between words either
        ("다나카와 예산 회의를 했다", "예산"),  # Korean: spaces, but particles stick to words
        ("Budget review with 田中 about the 预算", "预算"),  # mixed with English
    ],
)
def test_words_of_scripts_written_without_spaces_are_found_by_their_parts(text, query):
    assert terms(query) and set(terms(query)) <= set(terms(text))


def test_scripts_without_spaces_become_overlapping_character_pairs():
    assert tokens("与田中讨论预算") == ["与田", "田中", "中讨", "讨论", "论预", "预算"]
    assert tokens("田") == ["田"]  # a lone character is kept whole
    assert tokens("Call 田中 tomorrow") == ["call", "田中", "tomorrow"]
    assert not set(terms("田村")) & set(terms("会议上与田中讨论了预算"))  # sharing one character is not a match
