"""Search terms: tokens, stopwords, the light stemmer and hashes that are the same in every process."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

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
