"""Tallies of hostile-input cases per route, shared by the test module and the terminal summary."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

REPORT_PATH = Path(__file__).resolve().parents[2] / "test-artifacts" / "security-report.md"
COLUMNS = ("route", "cases", "2xx", "4xx", "5xx", "partial state")
COUNTS = ("cases", "2xx", "4xx", "5xx", "partial")

tallies: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))


def record(route: str, status: int, changed_state: bool) -> None:
    """One case; `changed_state`: a refused request left something stored (it must not)."""
    row = tallies[route]
    row["cases"] += 1
    row["2xx"] += 200 <= status < 300
    row["4xx"] += 400 <= status < 500
    row["5xx"] += status >= 500
    row["partial"] += changed_state


def totals() -> dict[str, int]:
    return {key: sum(row[key] for row in tallies.values()) for key in COUNTS}


def summary() -> str:
    total = totals()
    return (
        f"{total['5xx']} responses were 5xx and {total['partial']} refusals left partial state, in {total['cases']} "
        f"cases on {len(tallies)} routes."
    )


def table() -> str:
    rows = [(route, *(row[key] for key in COUNTS)) for route, row in sorted(tallies.items())]
    total = totals()
    rows.append(("total", *(total[key] for key in COUNTS)))
    cells = [COLUMNS, *[tuple(str(v) for v in row) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    line = lambda row: "| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |"  # noqa: E731
    return "\n".join([line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells[1:])])


def write() -> Path:
    REPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
    REPORT_PATH.write_text(
        "# Hostile input report\n\nEvery case must be answered without a 5xx; a refusal is a 4xx naming the problem "
        "and leaves no stored state behind (S3 object versions, table items, queued messages). The 2xx cases are "
        "hostile but valid input, stored as sent (the same numbers, the same text).\n\n"
        + summary()
        + "\n\n"
        + table()
        + "\n",
        encoding="utf-8",
    )
    return REPORT_PATH
