"""The summarizer's section format: the headings every summary is written in, in order, and "None." under a
heading with nothing to report (functions/summarize/prompt.py asks for exactly this)."""

from __future__ import annotations

from collections.abc import Sequence

SECTIONS = ("Overview", "People", "Commitments", "Reminders", "Insights", "Open questions")
NOTHING = "None."


def sections(summary: str) -> dict[str, str]:
    """heading -> its text (stripped), for each of SECTIONS standing on its own line in `summary` ("Insights" or
    "Insights:"); a heading that does not appear is absent."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in summary.splitlines():
        heading = line.strip().rstrip(":")
        if heading in SECTIONS and heading not in found:
            current = found[heading] = []
        elif current is not None:
            current.append(line)
    return {heading: "\n".join(lines).strip() for heading, lines in found.items()}


def says_nothing(summary: str, headings: Sequence[str]) -> bool:
    """True when every one of `headings` appears in `summary` with only "None." under it (a summary not in the
    section format, or missing one of them, says something: it is not known to be empty)."""
    written = sections(summary)
    return bool(headings) and all(written.get(heading) == NOTHING for heading in headings)
