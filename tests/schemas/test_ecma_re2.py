"""RE2 reads a JSON Schema pattern as ECMA-262 does: each pattern against each text, RE2 (linear time) against
regress (the ECMA-262 reference, a backtracking engine), with the features RE2 spells differently."""

from __future__ import annotations

import pytest

from schemas.ecma_re2 import UncheckablePattern, linear_regex
from schemas.system_definition import ecma_regex

PATTERNS = [
    r"^\p{L}+$",
    r"^\d\d:\d\d$",
    r"^a$",
    r"a$",
    r"^$",
    r"^[a-z\-]+$",
    r"^.$",
    r"^\s\S\w\W\D$",
    r"^[\s\d]+$",
    r"^\S+$",
    r"^[^\s]$",
    r"^[^\n]*$",
    r"^\t\v\f$",
    r"^\u00e9$",
    r"^\u{1F600}$",
    r"^\uD83D\uDE00$",
    r"^\x41$",
    r"^\0$",
    r"^\cJ$",
    r"^(?<h>[01][0-9]):[0-5][0-9]$",
    r"^[]a]$",
    r"[^]",
    r"^[^]a]$",
    r"^[[]$",
    r"^[[:alpha:]]$",
    r"^[\b]$",
    r"\bword\b",
    r"^a{2,3}$",
    r"^a{$",
    r"^x}$",
    r"\.",
    r"^[.]$",
    r"^\/$",
    r"^(a|b)+$",
    r"^\p{Script=Greek}+$",
    r"^\P{L}$",
    r"^([a-z0-9._%+-]+)@([a-z0-9.-]+)\.[a-z]{2,}$",
]
TEXTS = [
    "", "a", "b", "ab", "aa", "aaa", "a\n", "\n", "\r", "\u2028", "\u2029", "\u0085", "\x0b", "\x00", "\x08", "\t\x0b\x0c",
    "é", "e\u0301", "école", "日本", "😀", "α", "αβ", "1", "09:30", "09:30\n", "٠٩:٣٠", "a-b", "A", "x", "\u00a0xa!x",
    "\ufeffxa!x", " x_ é", "\u3000éaéé", "[", "]", "]a", "a]", "{", "a{", "x}", ".", "/", "foo@bar.com", "a b", "word",
    "a word here", "swordfish",
]  # fmt: skip


@pytest.mark.parametrize("pattern", PATTERNS)
def test_re2_matches_what_ecma_262_matches(pattern):
    reference, linear = ecma_regex(pattern), linear_regex(pattern)
    differ = [text for text in TEXTS if (reference.find(text) is not None) != (linear.search(text) is not None)]
    assert differ == []


@pytest.mark.parametrize(
    ("pattern", "named"),
    [
        ("(?=a)a", "look-around"),
        ("(a)\\1", "backreference"),
        ("a{1001}", "repeat count over 1000"),
        ("[\\S]", "\\S inside a character class"),
        ("\\p{Script_Extensions=Latin}", "property"),
        ("\\ud800", "unpaired surrogate"),
    ],
)
def test_what_re2_cannot_check_is_named(pattern, named):
    with pytest.raises(UncheckablePattern, match=named):
        linear_regex(pattern)
