"""`python -m bench --quick` writes results.md with every section, real PNG charts, and sane figures."""

from __future__ import annotations

import json
import math
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(1000)  # one quick run of every benchmark; slower when the machine is busy
ROOT = Path(__file__).resolve().parents[2]
SECTIONS = {
    "1. Translation": "translation.png",
    "2. Cloud economics": "cloud_costs.png",
    "3. Ingest path": "ingest.png",
    "4. Edge throughput": "edge.png",
    "5. Scaling": "scaling.png",
    "6. Search: latency for 100k summaries, near-duplicate recall": "search.png",
    "7. Translation quality on held-out examples": "quality.png",
}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("bench")
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return result, out


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _sections(markdown: str) -> dict[str, str]:
    parts = re.split(r"^## ", markdown, flags=re.MULTILINE)[1:]
    return {part.splitlines()[0].strip(): part for part in parts}


def test_quick_run_succeeds_and_reports_progress(quick_run):
    result, _ = quick_run
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[bench" in result.stderr and "wrote" in result.stderr


def test_results_md_has_every_section_with_a_table_and_its_chart(quick_run):
    _, out = quick_run
    sections = _sections((out / "results.md").read_text(encoding="utf-8"))
    assert list(sections) == list(SECTIONS)
    for title, chart in SECTIONS.items():
        body = sections[title]
        assert "This section failed" not in body and "Not run" not in body, body[:500]
        assert "|---" in body, f"{title}: no table"
        assert f"]({chart})" in body, f"{title}: chart not referenced"


def test_charts_are_real_pngs(quick_run):
    _, out = quick_run
    for chart in SECTIONS.values():
        width, height = _png_size(out / chart)
        assert width >= 400 and height >= 200, (chart, width, height)


def test_figures_hold_the_properties_the_design_claims(quick_run):
    _, out = quick_run
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["mode"] == "quick" and results["machine"]["cores"] >= 1
    sections = results["sections"]

    compare = sections["translation"]["data"]["compare"]["results"]
    ours = compare["ours as a logits processor (no fast-forward)"]
    assert ours["valid"] == ours["documents"] > 0 and ours["hit_cap"] == 0
    backfill = sections["translation"]["data"]["translator"]["backfill"]
    assert backfill["rows"]["batched"]["batch_size"] > 1 and backfill["summary_tokens"] > 100  # section format
    for row in backfill["rows"].values():
        assert 0 < row["prefill_seconds"] < row["seconds"]
        assert abs(row["prefill_seconds"] + row["decode_seconds"] - row["seconds"]) < 0.05
    assert 0 <= backfill["same_documents"] <= backfill["summaries"] == 8

    cloud = sections["cloud"]["data"]
    by_design = {row["design"]: row for row in cloud["rows"]}
    assert by_design["ours"]["calls_per_session"] == 1
    assert by_design["all-cloud, one call per system"]["calls_per_session"] == len(cloud["systems"])
    for model in cloud["models"]:
        assert by_design["all-cloud, one call per system"][model] > by_design["ours"][model] > 0
        assert cloud["refresh_per_1000"]["ours"][model] == 0 < cloud["refresh_per_1000"]["all-cloud"][model]

    ingest = sections["ingest"]["data"]
    assert ingest["main"]["gateway"]["sessions"] == ingest["main"]["raw"]["sessions"] == 40
    imports = {row["function"]: row for row in ingest["imports"]}
    assert not imports["IngestFunction"]["anthropic"] and imports["SummarizeFunction"]["anthropic"]
    assert not any(row["mlx"] for row in imports.values())

    edge = sections["edge"]["data"]
    assert edge["schema_valid_records"] == edge["expected_records"] == edge["sessions"] * edge["systems"]
    assert 0 <= edge["overhead_share"] < 1

    assert [row["sessions"] for row in sections["scaling"]["data"]["ingest"]] == [10, 100]
    search = sections["search"]["data"]
    assert search["naive_matches_numpy"] and search["per_vector_ratio"] > 1
    assert search["recall_at_5"]["recall"] >= 0.9 and search["index"]["rows"] == 100_000
    assert {"semantic", "hybrid", "lexical"} <= set(search["ours"])

    quality = sections["quality"]["data"]
    assert {row["system"] for row in quality["rows"]} == {"planner", "synapse", "nudge"}
    tuning = quality["tuning"]
    assert tuning["settings"]["prompt"] == "zero-shot" and tuning["train_seconds"] <= tuning["budget_seconds"] + 60
    for row in quality["rows"]:
        plain, few, tuned = row["zero-shot"], row["few-shot"], row["tuned adapter"]
        assert plain["prompt_version"] != few["prompt_version"]
        assert plain["examples"] == few["examples"] == tuned["examples"] == quality["examples"] >= 1
        assert few["valid_rate"] == tuned["valid_rate"] == 1.0 and 0.0 <= few["f1"] <= 1.0
        # The adapter trained for the system was applied, in the prompt it was trained on.
        assert plain["adapter_version"] is None and tuned["adapter_version"].startswith("trial-adapter:")
        assert tuned["prompt_version"] == plain["prompt_version"]
        trained = tuning["systems"][row["system"]]
        assert trained["iterations"] >= 1 and trained["train_examples"] > 0
        assert math.isfinite(trained["loss_first"]) and math.isfinite(trained["loss_last"])
