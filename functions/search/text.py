"""Text to search terms: lowercase word tokens, English stopwords out, a light suffix stemmer, stable uint32 hashes.

Scripts written without spaces between words (Chinese, Japanese, Thai, ...) are cut into overlapping pairs of
characters, the way Lucene's CJKBigramFilter indexes Han, Hiragana, Katakana and Hangul: a word of two or more
characters is then found inside any run that holds it, and ranks by how many of its pairs match.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Iterator
from functools import lru_cache

# Thai, Lao, Myanmar, Hangul Jamo, Khmer, CJK marks, Hiragana, Katakana (and its phonetic extensions), Hangul
# compatibility Jamo, CJK ideographs (with extension A and compatibility forms), Hangul syllables, half-width
# Katakana, and the supplementary ideograph planes.
_UNSPACED = (
    "\u0e00-\u0eff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u3005\u3007\u3040-\u30ff\u3130-\u318f"
    "\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f"
)
_POSSESSIVE = re.compile(r"['’]s\b")
_WORD = re.compile(rf"(?P<unspaced>[{_UNSPACED}]+)|[^\W{_UNSPACED}]+")
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
    """Lowercase word tokens of two or more characters, stopwords and possessive 's removed; a run of a script
    written without spaces gives its overlapping character pairs (a lone character stays whole)."""
    return list(_tokens(_POSSESSIVE.sub("", canonical(text).lower())))


def canonical(text: str) -> str:
    """`text` in Unicode's composed form (NFC): "José" typed on a phone and "Jose\u0301" as macOS writes it are one
    word. Indexed text, queries and snippets all go through it."""
    return unicodedata.normalize("NFC", text)


def _tokens(text: str) -> Iterator[str]:
    for match in _WORD.finditer(text):
        run = match[0]
        if match["unspaced"]:
            yield from (run[i : i + 2] for i in range(len(run) - 1)) if len(run) > 1 else (run,)
        elif len(run) > 1 and run not in STOPWORDS:
            yield run


def terms(text: str) -> list[int]:
    """The text's search terms in order, repeats kept (they are the term frequencies)."""
    return [_term(word) for word in tokens(text)]


def term_of(token: str) -> int:
    """The term of one token as tokens() gives it (lowercase)."""
    return _term(token)


def token_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, token) of each token tokens() finds in `text`, offsets into `text` itself (code points); `text`
    is expected in canonical() form."""
    for match in _WORD.finditer(text):
        run, start = match[0].lower(), match.start()
        if match["unspaced"]:
            if len(run) > 1:
                yield from ((start + i, start + i + 2, run[i : i + 2]) for i in range(len(run) - 1))
            else:
                yield start, start + 1, run
        elif len(run) > 1 and run not in STOPWORDS:
            yield start, match.end(), run


def has_unspaced(text: str) -> bool:
    """Whether `text` holds a character of a script written without spaces."""
    return _UNSPACED_CHAR.search(text) is not None


_UNSPACED_CHAR = re.compile(f"[{_UNSPACED}]")
