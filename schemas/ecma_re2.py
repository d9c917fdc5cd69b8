"""JSON Schema `pattern`s (ECMA-262 regular expressions) checked in time linear in the text, with RE2.

A backtracking engine (Python's re, regress) takes exponential time on patterns such as `([a-z0-9.]+)+@x\\.com`
or `(\\d|\\w)+` given 30 characters that almost match: one user edit could then hold the API until it times out.
RE2 never backtracks (Cox, "Regular Expression Matching Can Be Simple And Fast", 2007). `re2_syntax` rewrites the
ECMA-262 features RE2 spells differently (`.`, `\\s`, `\\uXXXX`, `(?<name>`, `[]`, `[^]`) and raises
UncheckablePattern for those it lacks (look-around, backreferences, repeats over 1,000).
"""

from __future__ import annotations

import functools
import re
from typing import Any

import re2

_SPACE = "\\t\\n\\x{b}\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}"
_DOT = "[^\\n\\r\\x{2028}\\x{2029}]"  # ECMA-262's "." leaves out its four line terminators
_CHARACTER_ESCAPES = {"n": "\\n", "r": "\\r", "t": "\\t", "f": "\\f", "v": "\\x{b}", "0": "\\x{0}"}
_QUANTIFIER = re.compile(r"\{(\d+)(,(\d*))?\}")
_MAX_REPEAT = 1000  # RE2's limit on {n,m}
_PROPERTY = re.compile(r"\\([pP])\{([^}]*)\}")
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is reported by its caller, not on stderr


class UncheckablePattern(ValueError):
    """The pattern uses a feature RE2 cannot check; the message names it."""


@functools.lru_cache(maxsize=1024)
def linear_regex(pattern: str) -> Any:
    """`pattern` (ECMA-262) compiled by RE2; its `search(text)` is ECMA-262's `test`. Raises UncheckablePattern."""
    try:
        return re2.compile(re2_syntax(pattern), _OPTIONS)
    except re2.error as exc:
        raise UncheckablePattern(f"RE2 cannot compile it ({exc})") from None


def re2_syntax(pattern: str) -> str:
    """`pattern` (ECMA-262, as regress reads it) in RE2's syntax, matching the same strings. Raises
    UncheckablePattern naming a feature RE2 lacks."""
    out: list[str] = []
    index, in_class = 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            text, index = _escape(pattern, index, in_class)
            out.append(text)
        elif in_class:
            if char == "]":
                in_class = False
            out.append("\\[" if char == "[" else char)  # "[[:" would open a POSIX class in RE2
            index += 1
        elif char == "[":
            if pattern.startswith("[]", index):
                out.append("[^\\x{0}-\\x{10ffff}]")  # ECMA-262's empty class matches nothing
                index += 2
            elif pattern.startswith("[^]", index):
                out.append("(?s:.)")  # and its negation matches anything
                index += 3
            else:
                caret = pattern.startswith("[^", index)
                out.append("[^" if caret else "[")
                index += 2 if caret else 1
                in_class = True
        elif char == ".":
            out.append(_DOT)
            index += 1
        elif char == "(" and pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), index):
            raise UncheckablePattern("look-around")
        elif char == "(" and pattern.startswith("(?<", index):
            out.append("(?P<")
            index += 3
        elif char == "{":
            found = _QUANTIFIER.match(pattern, index)
            if found and max(int(found[1]), int(found[3] or 0)) > _MAX_REPEAT:
                raise UncheckablePattern(f"a repeat count over {_MAX_REPEAT} ({found[0]})")
            out.append(found[0] if found else "\\{")  # without the u flag a "{" that is no quantifier is literal
            index += len(found[0]) if found else 1
        elif char == "}":
            out.append("\\}")
            index += 1
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _escape(pattern: str, index: int, in_class: bool) -> tuple[str, int]:
    """The escape at `index` in RE2's syntax, and the index after it."""
    if index + 1 >= len(pattern):
        raise UncheckablePattern("a trailing backslash")
    letter = pattern[index + 1]
    if letter in "dDwW" or (letter in "bB" and not in_class):
        return "\\" + letter, index + 2
    if letter == "b":  # inside a class, ECMA-262's \b is a backspace
        return "\\x{8}", index + 2
    if letter == "s":
        return (_SPACE if in_class else f"[{_SPACE}]"), index + 2
    if letter == "S":
        if in_class:
            raise UncheckablePattern("\\S inside a character class")
        return f"[^{_SPACE}]", index + 2
    if letter in _CHARACTER_ESCAPES and not (letter == "0" and pattern[index + 2 : index + 3].isdigit()):
        return _CHARACTER_ESCAPES[letter], index + 2
    if letter in "123456789k":
        raise UncheckablePattern("a backreference")
    if letter == "c" and pattern[index + 2 : index + 3].isalpha():
        return f"\\x{{{ord(pattern[index + 2]) % 32:x}}}", index + 3
    if letter == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", pattern[index + 2 : index + 4]):
        return f"\\x{{{pattern[index + 2 : index + 4]}}}", index + 4
    if letter == "u":
        return _code_point(pattern, index)
    if letter in "pP":
        found = _PROPERTY.match(pattern, index)
        if not found:
            raise UncheckablePattern(f"\\{letter} without a {{property}}")
        name, _, value = found[2].partition("=")
        if value and name not in ("General_Category", "gc", "Script", "sc"):
            raise UncheckablePattern(f"the property {found[2]!r}")
        return f"\\{letter}{{{value or name}}}", found.end()
    if letter.isalnum():
        raise UncheckablePattern(f"the escape \\{letter}")
    return "\\" + letter, index + 2


def _code_point(pattern: str, index: int) -> tuple[str, int]:
    """A \\uXXXX, \\u{X...} or surrogate-pair escape at `index` as RE2's \\x{...}."""
    if pattern.startswith("{", index + 2):
        end = pattern.find("}", index + 3)
        digits, after = (pattern[index + 3 : end], end + 1) if end > 0 else ("", index)
    else:
        digits, after = pattern[index + 2 : index + 6], index + 6
    if not re.fullmatch(r"[0-9A-Fa-f]{1,6}", digits):
        raise UncheckablePattern("a malformed \\u escape")
    point = int(digits, 16)
    if 0xD800 <= point <= 0xDBFF and re.match(r"\\u[dD][c-fC-F][0-9a-fA-F]{2}", pattern[after : after + 6]):
        low = int(pattern[after + 2 : after + 6], 16)
        point, after = 0x10000 + ((point - 0xD800) << 10) + (low - 0xDC00), after + 6
    if 0xD800 <= point <= 0xDFFF:
        raise UncheckablePattern("an unpaired surrogate escape")
    return f"\\x{{{point:x}}}", after
