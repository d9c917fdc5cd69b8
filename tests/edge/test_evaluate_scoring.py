"""Evaluation: field-level scoring, the evaluation run on a model, and the translate/eval commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge_worker.cli import main
from edge_worker.evaluate import SystemEvaluation, evaluate_system, flatten, leaf_matches, prf, render_markdown
from edge_worker.translator import Translator
from schemas.system_definition import SystemDefinition, load_systems

ROOT = Path(__file__).resolve().parents[2]


def test_flatten_uses_order_free_paths_and_normalises_strings():
    leaves = flatten({"tasks": [{"title": "  Send  the Budget ", "done": False}, {"due": None}], "n": 2})
    assert sorted(leaves) == sorted(
        ["tasks[].title=send the budget", "tasks[].done=false", "tasks[].due=null", "n=2.0"]
    )


def test_leaf_matching_counts_precision_recall_and_f1():
    expected = {"tasks": [{"title": "Book flights", "priority": "high"}, {"title": "Pack", "priority": "low"}]}
    predicted = {"tasks": [{"title": "book FLIGHTS", "priority": "low"}]}
    assert leaf_matches(predicted, expected) == (2, 2, 4)  # title and "low" match; order does not matter
    precision, recall, f1 = prf(*leaf_matches(predicted, expected))
    assert (precision, recall) == (1.0, 0.5)
    assert f1 == pytest.approx(2 / 3)
    assert prf(*leaf_matches({"tasks": []}, {"tasks": []})) == (1.0, 1.0, 1.0)
    assert prf(*leaf_matches({"tasks": [{"title": "x"}]}, {"tasks": []})) == (0.0, 1.0, 0.0)
    assert prf(*leaf_matches({"tasks": []}, {"tasks": [{"title": "x"}]})) == (1.0, 0.0, 0.0)


def test_evaluation_on_a_model_is_valid_serialisable_and_rendered(tiny_model):
    shipped = load_systems().systems["planner"]
    system = SystemDefinition.from_dict(shipped.to_dict() | {"examples": list(shipped.examples_for("eval")[:3])})
    translator = Translator(tiny_model.model, tiny_model.tokenizer, tiny_model.info, max_tokens=100)
    seen = []
    result = evaluate_system(translator, system, progress=seen.append)
    assert seen == [f"eval planner example {i}/{len(system.examples)}" for i in range(1, len(system.examples) + 1)]
    assert result.examples == len(system.examples) and result.valid_rate == 1.0
    assert all(score.valid and system.validation_errors(score.document) == [] for score in result.scores)
    assert 0.0 <= result.f1 <= 1.0 and result.tokens_per_second > 0
    assert SystemEvaluation.model_validate_json(result.model_dump_json()) == result
    table = render_markdown([result])
    assert "| planner | 3 | 100% |" in table
    assert result.translator_model_version in table


def _run_cli(args, stdin=""):
    return subprocess.run(
        [sys.executable, "-m", "edge_worker", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def test_translate_command_prints_one_valid_document_per_system(tiny_model_dir):
    summary = "Session on 3 May 2025. The user will call the plumber tomorrow and wants to stretch daily."
    done = _run_cli(
        [
            "translate",
            "-",
            "--model",
            str(tiny_model_dir),
            "--system",
            "nudge",
            "--system",
            "planner",
            "--max-tokens",
            "80",
            "--summary-id",
            "sum-9",
        ],
        stdin=summary,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["system"] for line in lines] == ["nudge", "planner"]
    systems = load_systems().systems
    for line in lines:
        assert line["summary_id"] == "sum-9"
        assert systems[line["system"]].validation_errors(line["document"]) == []
        assert line["lineage"]["schema_version"] == systems[line["system"]].schema_version
    assert "translating for 2 system(s)" in done.stderr


def test_eval_command_writes_markdown_and_json(tiny_model_dir, tmp_path):
    out = tmp_path / "eval.json"
    shipped = load_systems().systems["synapse"]
    (tmp_path / "systems").mkdir()
    few = shipped.to_dict() | {"examples": list(shipped.examples_for("eval")[:3])}
    (tmp_path / "systems" / "synapse.json").write_text(json.dumps(few), encoding="utf-8")
    done = _run_cli(
        ["eval", "--system", "synapse", "--systems-dir", str(tmp_path / "systems")]
        + ["--model", str(tiny_model_dir), "--max-tokens", "80", "--json", str(out)]
    )
    assert done.returncode == 0, done.stderr
    assert "| synapse | 3 |" in done.stdout
    [saved] = json.loads(out.read_text())
    assert saved["system"] == "synapse" and saved["valid_rate"] == 1.0


def test_commands_reject_bad_input_with_a_message(tmp_path, capsys):
    # In-process through this module's own parser; the subprocess tests above go through `ssp-edge`.
    assert main(["translate", str(tmp_path / "missing.txt")]) == 2
    assert "cannot read summary file" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("   \n")
    assert main(["translate", str(empty)]) == 2
    assert "the summary is empty" in capsys.readouterr().err
    summary = tmp_path / "summary.txt"
    summary.write_text("Something happened.")
    assert main(["translate", str(summary), "--system", "nope"]) == 2
    assert "unknown system(s): nope" in capsys.readouterr().err
    assert main(["eval", "--model", str(tmp_path / "no-such-model")]) == 1
    assert "no-such-model" in capsys.readouterr().err
