"""A search hit's snippet: the summary line that holds the most query terms, cut to a window around them, with the
matched words' offsets (code points, as Python's str indexes them) so a client marks exactly what matched."""

from __future__ import annotations

import re
from typing import Any

from functions.search.text import canonical, has_unspaced, term_of, token_spans

MAX_CHARS = 240
LEAD_CHARS = 60  # kept before the first match when the line is cut
_HEADING = re.compile(r"[^\W\d_][\w ]{0,29}:?")  # a summary's section heading: "Overview", "Open questions:"
_EMPTY_SECTION = "None."


def matched_spans(line: str, wanted: set[int]) -> list[list[int]]:
    """[start, end] of each token of `line` whose term is wanted; overlapping character pairs join into one span."""
    spans: list[list[int]] = []
    for start, end, token in token_spans(line):
        if term_of(token) not in wanted:
            continue
        if spans and spans[-1][1] >= start:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    return spans


def _heading(line: str) -> bool:
    return _HEADING.fullmatch(line) is not None and not has_unspaced(line)


def snippet(text: str, query_terms: list[int], max_chars: int = MAX_CHARS) -> dict[str, Any]:
    """{"text", "highlights": [[start, end], ...]} from a summary's text: the line with the most matched terms (else
    its first line that is not a heading) and the lines after it that fit, cut to at most max_chars with "…" where
    text was left out."""
    wanted = set(query_terms)
    lines = [line.strip() for line in canonical(text).splitlines()]
    lines = [line for line in lines if line and line != _EMPTY_SECTION and not _heading(line)]
    if not lines:
        return {"text": "", "highlights": []}
    counts = [len(matched_spans(line, wanted)) for line in lines]
    best = max(range(len(lines)), key=lambda n: (counts[n], -n))
    line = lines[best]
    for following in lines[best + 1 :]:  # short lines: the ones after it too, while they fit
        if len(line) + 1 + len(following) > max_chars:
            break
        line = f"{line} {following}"
    spans = matched_spans(line, wanted)
    start = 0
    if spans and len(line) > max_chars:
        start = max(0, min(spans[0][0] - LEAD_CHARS, len(line) - max_chars))
    prefix = "…" if start else ""
    suffix = "…" if start + max_chars < len(line) else ""
    shift = len(prefix) - start
    highlights = [[a + shift, b + shift] for a, b in spans if a >= start and b <= start + max_chars]
    return {"text": f"{prefix}{line[start : start + max_chars]}{suffix}", "highlights": highlights}
