"""The figures the load and fault suites print, also kept as a markdown artefact."""

from __future__ import annotations

from pathlib import Path

ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "reliability-report.md"


def report(title: str, rows: list[tuple[str, object]]) -> str:
    lines = [f"### {title}", "", "| figure | value |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    with ARTIFACT.open("a") as fh:
        fh.write(text + "\n")
    return text
