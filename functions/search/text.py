"""Text to search terms: lowercase word tokens, English stopwords out, a light suffix stemmer, stable uint32 hashes."""

from __future__ import annotations

import re
import zlib
from functools import lru_cache

_POSSESSIVE = re.compile(r"['’]s\b")
_WORD = re.compile(r"\w+")
_VOWEL = re.compile(r"[aeiouy]")

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "don",
        "down",
        "during",
        "each",
        "else",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "ll",
        "ve",
        "re",
        "aren",
        "couldn",
        "didn",
        "doesn",
        "hadn",
        "hasn",
        "haven",
        "isn",
        "shouldn",
        "wasn",
        "weren",
        "won",
        "wouldn",
    ]
)


def _undouble(stem: str) -> str:
    """running -> runn -> run, planned -> plann -> plan; ll, ss and zz stay (called, missed)."""
    if len(stem) >= 4 and stem[-1] == stem[-2] and stem[-1] not in "aeioulsz":
        return stem[:-1]
    return stem


def stem(word: str) -> str:
    """A conservative suffix stripper: plurals, -ing, -ed, -ly, a final e, y -> i (meetings, meeting, meet -> meet)."""
    if len(word) > 4 and word.endswith(("ies", "ied")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix, shortest in (("ing", 3), ("ed", 3), ("ly", 5)):
        base = word[: -len(suffix)]
        if word.endswith(suffix) and not word.endswith("eed") and len(base) >= shortest and _VOWEL.search(base):
            word = base if suffix == "ly" else _undouble(base)
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 2 and word.endswith("y") and _VOWEL.search(word[:-1]):
        word = word[:-1] + "i"
    return word


@lru_cache(maxsize=1 << 16)
def _term(word: str) -> int:
    """The stem of one lowercase word as a stable uint32 (crc32, the same in every process)."""
    return zlib.crc32(stem(word).encode())


def tokens(text: str) -> list[str]:
    """Lowercase word tokens of two or more characters, stopwords and possessive 's removed."""
    words = _WORD.findall(_POSSESSIVE.sub("", text.lower()))
    return [word for word in words if len(word) > 1 and word not in STOPWORDS]


def terms(text: str) -> list[int]:
    """The text's search terms in order, repeats kept (they are the term frequencies)."""
    return [_term(word) for word in tokens(text)]
