"""PNG charts of the results (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

CHARTS = {
    "translation": "translation.png",
    "cloud": "cloud_costs.png",
    "ingest": "ingest.png",
    "edge": "edge.png",
    "scaling": "scaling.png",
    "search": "search.png",
}


def _save(figure: Any, out: Path, key: str) -> Path:
    path = out / CHARTS[key]
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def translation(results: dict[str, Any], out: Path) -> Path:
    compare = results["compare"]["results"]
    names = list(compare)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    bars = left.barh(names, [compare[n]["seconds_per_summary"] for n in names], color="#4c72b0")
    left.bar_label(bars, fmt="%.2f s", padding=2, fontsize=8)
    left.set_xlabel(f"seconds per summary ({len(results['compare']['systems'])} systems, prompt included)")
    bars = right.barh(names, [100 * compare[n]["valid"] / compare[n]["documents"] for n in names], color="#55a868")
    right.bar_label(bars, fmt="%.0f%%", padding=2, fontsize=8)
    right.set_xlabel("schema-valid documents (%)")
    right.set_xlim(0, 110)
    right.set_yticks([])
    figure.suptitle(f"Translation on {results['compare']['model']}, cap {results['compare']['cap']} tokens")
    return _save(figure, out, "translation")


def cloud(results: dict[str, Any], out: Path) -> Path:
    rows = results["rows"]
    figure, axis = plt.subplots(figsize=(10, 4))
    labels = [f"{m}{' cached' if c else ''}" for m in results["models"] for c in (False, True)]
    width = 0.8 / len(rows)
    for index, row in enumerate(rows):
        values = [row[f"{m}{'_cached' if c else ''}"] for m in results["models"] for c in (False, True)]
        axis.bar([x + index * width for x in range(len(labels))], values, width, label=row["design"])
    axis.set_xticks([x + width * (len(rows) - 1) / 2 for x in range(len(labels))], labels)
    axis.set_ylabel(f"USD per {results['units']:,} sessions")
    axis.legend(fontsize=8)
    axis.set_title("Cloud LLM cost per 1,000 sessions (tokens counted with the SmolLM2 tokenizer)")
    return _save(figure, out, "cloud")


def ingest(results: dict[str, Any], out: Path) -> Path:
    main = results["main"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    ways = ("gateway", "raw")
    left.bar(
        ["local gateway", "raw boto3"], [main[w]["sessions_per_second"] for w in ways], color=["#4c72b0", "#dd8452"]
    )
    left.set_ylabel("sessions per second")
    x = range(2)
    right.bar([i - 0.2 for i in x], [main[w]["p50_ms"] for w in ways], 0.4, label="p50")
    right.bar([i + 0.2 for i in x], [main[w]["p99_ms"] for w in ways], 0.4, label="p99")
    right.set_xticks(list(x), ["local gateway", "raw boto3"])
    right.set_ylabel("ms per session")
    right.legend()
    figure.suptitle(f"Ingest, {main['sessions']} sessions, {results['clients']} clients")
    return _save(figure, out, "ingest")


def edge(results: dict[str, Any], out: Path) -> Path:
    figure, axis = plt.subplots(figsize=(9, 2.6))
    axis.barh(["wall time"], [results["translator_seconds"]], color="#4c72b0", label="translator (model)")
    axis.barh(
        ["wall time"],
        [results["overhead_seconds"]],
        left=[results["translator_seconds"]],
        color="#c44e52",
        label=f"outside the model ({results['overhead_share']:.1%})",
    )
    axis.set_xlabel("seconds")
    axis.legend(loc="lower right", fontsize=8)
    axis.set_title(f"Edge: {results['sessions']} sessions x {results['systems']} systems on {results['model']}")
    return _save(figure, out, "edge")


def scaling(ingest_rows: list[dict[str, Any]], translation_rows: list[dict[str, Any]], out: Path) -> Path:
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    sizes = [row["sessions"] for row in ingest_rows]
    for way, label in (("gateway", "local gateway"), ("raw", "raw boto3")):
        left.plot(sizes, [1000 / row[way]["sessions_per_second"] for row in ingest_rows], marker="o", label=label)
    left.set_xscale("log")
    left.set_xlabel("sessions posted")
    left.set_ylabel("ms of wall time per session")
    left.legend()
    counts = [row["systems"] for row in translation_rows]
    for mode in ("reuse", "naive"):
        right.plot(
            counts,
            [row[f"{mode}_seconds"] / row["systems"] for row in translation_rows],
            marker="o",
            label="prefix reuse" if mode == "reuse" else "naive prompting",
        )
    right.set_xticks(counts)
    right.set_xlabel("systems per summary")
    right.set_ylabel("seconds per system")
    right.legend()
    figure.suptitle("Cost per unit as the work grows")
    return _save(figure, out, "scaling")


def search(results: dict[str, Any], out: Path) -> Path:
    figure, axis = plt.subplots(figsize=(9, 3))
    rows = [
        ("numpy float32", results["float32"]),
        ("numpy float16", results["float16"]),
        ("pure Python", results["naive"]),
    ]
    bars = axis.barh([name for name, _ in rows], [row["ns_per_vector"] for _, row in rows], color="#8172b2")
    axis.bar_label(bars, fmt="%.0f ns", padding=2, fontsize=8)
    axis.set_xscale("log")
    axis.set_xlim(1, max(row["ns_per_vector"] for _, row in rows) * 10)
    axis.set_xlabel("ns per vector scored (p50 query / vectors searched), log scale")
    axis.set_title(f"Exact cosine top-{results['top_k']}, {results['dimensions']} dimensions")
    return _save(figure, out, "search")
