"""`python -m bench.semantic_recall` embeds the labelled set with a local model and prints its recall table."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

from tiny_model import build_tiny_model  # noqa: E402


def test_semantic_recall_prints_words_embeddings_and_hybrid_rows(tmp_path):
    model = build_tiny_model(tmp_path / "tiny")
    done = subprocess.run(
        [sys.executable, "-m", "bench.semantic_recall", "--model", str(model)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = dict(re.findall(r"^\| (words only|embeddings only|hybrid)[^|]* \| ([01]\.\d{3}) \|", done.stdout, re.M))
    assert set(rows) == {"words only", "embeddings only", "hybrid"}, done.stdout
    assert float(rows["words only"]) >= 0.9  # the words-only figure does not depend on the model
    assert "60 summaries embedded" in done.stdout
