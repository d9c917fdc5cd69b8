"""Tallies of hostile-input cases per route, shared by the test module and the terminal summary."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

REPORT_PATH = Path(__file__).resolve().parents[2] / "test-artifacts" / "security-report.md"
COLUMNS = ("route", "cases", "4xx", "5xx", "partial state")

tallies: dict[str, dict[str, int]] = defaultdict(lambda: {"cases": 0, "4xx": 0, "5xx": 0, "partial": 0})


def record(route: str, status: int, changed_state: bool) -> None:
    row = tallies[route]
    row["cases"] += 1
    row["4xx"] += 400 <= status < 500
    row["5xx"] += status >= 500
    row["partial"] += changed_state


def totals() -> dict[str, int]:
    return {key: sum(row[key] for row in tallies.values()) for key in ("cases", "4xx", "5xx", "partial")}


def table() -> str:
    rows = [(route, row["cases"], row["4xx"], row["5xx"], row["partial"]) for route, row in sorted(tallies.items())]
    total = totals()
    rows.append(("total", total["cases"], total["4xx"], total["5xx"], total["partial"]))
    cells = [COLUMNS, *[tuple(str(v) for v in row) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    line = lambda row: "| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |"  # noqa: E731
    return "\n".join([line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells[1:])])


def write() -> Path:
    REPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
    REPORT_PATH.write_text(
        "# Hostile input report\n\nEvery case must be a 4xx naming the problem and leave no "
        "stored state behind (S3 object versions, table items, queued messages).\n\n" + table() + "\n",
        encoding="utf-8",
    )
    return REPORT_PATH
