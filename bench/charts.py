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
    "quality": "quality.png",
}


def _save(figure: Any, out: Path, key: str) -> Path:
    path = out / CHARTS[key]
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def translation(results: dict[str, Any], out: Path) -> Path:
    """Prompt tokens, documents/s against unconstrained, host µs per token, backfill documents/minute, and the
    comparison with Outlines."""
    translator, compare = results["translator"], results["compare"]["results"]
    figure, grid = plt.subplots(2, 3, figsize=(15, 7.5))
    axes = [grid[0][0], grid[0][1], grid[0][2], grid[1][0], grid[1][1]]
    grid[1][2].axis("off")
    rows = translator["prefix_reuse"]
    labels = [str(row["systems"]) for row in rows]
    width = 0.4
    axes[0].bar(
        [i - width / 2 for i in range(len(rows))], [r["naive_prompt_tokens"] for r in rows], width, label="naive"
    )
    axes[0].bar(
        [i + width / 2 for i in range(len(rows))], [r["reuse_prompt_tokens"] for r in rows], width, label="ours"
    )
    axes[0].set_xticks(range(len(rows)), labels)
    axes[0].set_xlabel("systems")
    axes[0].set_ylabel("prompt tokens per summary")
    axes[0].legend(fontsize=8)
    axes[0].set_title(
        "Prompt tokens (naive ÷ ours: " + ", ".join(f"{r['prompt_token_ratio']:.0f}x" for r in rows) + ")", fontsize=9
    )

    speed = translator["speed"]["rows"]
    names = list(speed)
    bars = axes[1].barh(names, [speed[n]["documents_per_second"] for n in names], color="#4c72b0")
    axes[1].bar_label(bars, fmt="%.3f", padding=2, fontsize=8)
    axes[1].set_xlabel("documents per second (one at a time)")
    axes[1].set_title(
        f"Measured ratio {translator['speed']['ratio_vs_unconstrained']:.2f}x, projected "
        f"{translator['speed']['tokens_per_forward']:.2f}x",
        fontsize=9,
    )

    host = translator["host"]
    names = [*host, "during decoding"]
    values = [host[n]["us_per_token"] for n in host] + [speed["ours (fast-forward)"]["host_us_per_token"]]
    bars = axes[2].barh(names, values, color="#dd8452")
    axes[2].bar_label(bars, fmt="%.0f µs", padding=2, fontsize=8)
    axes[2].axvline(100, color="grey", linestyle="--", linewidth=1)
    axes[2].set_xlabel("host µs per generated token (target 100)")

    backfill = translator["backfill"]
    names = list(backfill["rows"])
    prefill = [backfill["rows"][n]["prefill_seconds"] for n in names]
    decoding = [backfill["rows"][n]["decode_seconds"] for n in names]
    axes[3].bar(names, prefill, color="#c4c4c4", label="prefill")
    bars = axes[3].bar(names, decoding, bottom=prefill, color="#55a868", label="decoding")
    axes[3].bar_label(bars, labels=[f"{a + b:.0f} s" for a, b in zip(prefill, decoding, strict=True)], fontsize=8)
    axes[3].margins(y=0.15)
    axes[3].set_ylabel("seconds")
    axes[3].legend(fontsize=8)
    axes[3].set_title(
        f"Backfill {backfill['summaries']} x {backfill['system']}: {backfill['ratio']:.2f}x "
        f"(batch {backfill['rows']['batched']['batch_size']}; decoding {backfill['decode_ratio']:.2f}x)",
        fontsize=9,
    )

    names = list(compare)
    bars = axes[4].barh(names, [100 * compare[n]["valid"] / compare[n]["documents"] for n in names], color="#8172b3")
    axes[4].bar_label(bars, fmt="%.0f%%", padding=2, fontsize=8)
    axes[4].set_xlabel("schema-valid documents (%)")
    axes[4].set_xlim(0, 110)
    figure.suptitle(f"Translation on {translator['model']}")
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


def quality(results: dict[str, Any], out: Path) -> Path:
    """Per system, one bar per prompt and the tuned adapter: held-out item F1 (left) and the share of empty cases
    given invented items (right)."""
    from bench.quality import PROMPTS, TUNED_COLUMN

    rows = results["rows"]
    columns = [c for c in (*PROMPTS, TUNED_COLUMN) if any(row.get(c) for row in rows)]
    figure, (f1_axis, invented_axis) = plt.subplots(1, 2, figsize=(10, 3.8))
    width = 0.8 / max(1, len(columns))
    for axis, metric in ((f1_axis, "f1"), (invented_axis, "invented_rate")):
        for k, column in enumerate(columns):
            values = [(row.get(column) or {}).get(metric) or 0.0 for row in rows]
            bars = axis.bar(
                [i + (k - (len(columns) - 1) / 2) * width for i in range(len(rows))], values, width, label=column
            )
            axis.bar_label(bars, fmt="%.2f", padding=2, fontsize=8)
        axis.set_xticks(range(len(rows)), [row["system"] for row in rows])
        axis.set_ylim(0, 1.12)
    f1_axis.axhline(0.6, color="#c44e52", linestyle="--", linewidth=1, label="target 0.6")
    f1_axis.set_ylabel("held-out item F1 (higher is better)")
    invented_axis.set_ylabel("invented items in empty cases (lower is better)")
    f1_axis.legend(fontsize=8)
    figure.suptitle(f"{results['examples']} held-out examples per system ({results['model']})", fontsize=9)
    return _save(figure, out, "quality")
