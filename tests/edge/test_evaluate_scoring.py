"""Evaluation on a model end to end: the evaluation run, and the translate/eval commands (the scoring logic is unit
tested in tests/unit/test_eval_metrics.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from edge_worker.cli import main
from edge_worker.evaluate import SystemEvaluation, evaluate_system, render_markdown
from edge_worker.translator import Translator
from schemas.system_definition import SystemDefinition, load_systems

ROOT = Path(__file__).resolve().parents[2]


def test_evaluation_on_a_model_is_valid_serialisable_and_rendered(tiny_model):
    shipped = load_systems().systems["planner"]
    # The split opens with sessions whose commitments are none or the assistant's: no model runs for those.
    system = SystemDefinition.from_dict(shipped.to_dict() | {"examples": list(shipped.examples_for("eval")[2:5])})
    translator = Translator(tiny_model.model, tiny_model.tokenizer, tiny_model.info, max_tokens=100)
    seen = []
    result = evaluate_system(translator, system, progress=seen.append)
    assert seen == [f"eval planner eval example {i}/3" for i in range(1, 4)]
    assert result.examples == len(system.examples) and result.valid_rate == 1.0
    assert all(score.valid and system.validation_errors(score.document) == [] for score in result.scores)
    assert 0.0 <= result.f1 <= 1.0 and result.tokens_per_second > 0
    assert SystemEvaluation.model_validate_json(result.model_dump_json()) == result
    table = render_markdown([result])
    assert "| planner | eval | few-shot | 3 | 100% |" in table
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


def test_eval_command_scores_a_split_zero_and_few_shot_and_writes_json(tiny_model_dir, tmp_path):
    out = tmp_path / "eval.json"
    shipped = load_systems().systems["synapse"]
    (tmp_path / "systems").mkdir()
    few = shipped.to_dict() | {
        "examples": list(shipped.examples_for("prompt")) + list(shipped.examples_for("eval")[:3])
    }
    (tmp_path / "systems" / "synapse.json").write_text(json.dumps(few), encoding="utf-8")
    common = ["eval", "--system", "synapse", "--systems-dir", str(tmp_path / "systems"), "--no-record"]
    common += ["--model", str(tiny_model_dir), "--max-tokens", "80", "--limit", "2"]
    done = _run_cli([*common, "--json", str(out)])
    assert done.returncode == 0, done.stderr
    assert "| synapse | eval | few-shot | 2 | 100% |" in done.stdout
    assert "eval synapse eval example 2/2" in done.stderr
    [saved] = json.loads(out.read_text())
    assert saved["system"] == "synapse" and saved["valid_rate"] == 1.0 and len(saved["scores"]) == 2
    assert set(saved) >= {"f1", "exact_date_accuracy", "invented_rate", "duplicate_items", "tokens_per_second"}
    zero = _run_cli([*common, "--zero-shot", "--split", "prompt", "--json", str(out)])
    assert zero.returncode == 0, zero.stderr
    assert "| synapse | prompt | zero-shot | 2 | 100% |" in zero.stdout
    [zero_saved] = json.loads(out.read_text())
    assert zero_saved["translator_prompt_version"] != saved["translator_prompt_version"]
    empty = _run_cli([*common, "--split", "train"])
    assert empty.returncode == 2 and "no example in the 'train' split of: synapse" in empty.stderr


def test_eval_record_needs_the_api_and_names_what_is_missing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SSP_HOME", str(tmp_path))
    for variable in ("SSP_API_URL", "SSP_EDGE_QUEUE_URL"):
        monkeypatch.delenv(variable, raising=False)
    assert main(["eval", "--record", "--system", "planner"]) == 2
    assert "--record needs the API: edge configuration" in capsys.readouterr().err


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
    assert main(["eval", "--no-record", "--model", str(tmp_path / "no-such-model")]) == 1
    assert "no-such-model" in capsys.readouterr().err
    assert main(["eval", "--system", "nope"]) == 2
    assert "unknown system(s): nope" in capsys.readouterr().err
    assert main(["eval", "--limit", "0"]) == 2
    assert "--limit must be positive" in capsys.readouterr().err


def test_eval_refuses_an_unwritable_json_path_before_loading_the_model(tmp_path, capsys):
    common = ["eval", "--system", "planner", "--no-record", "--model", str(tmp_path / "no-such-model")]
    for out, problem in (
        (tmp_path / "missing" / "eval.json", f"folder {tmp_path / 'missing'} does not exist"),
        (tmp_path, "is a directory"),
    ):
        assert main([*common, "--json", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"--json {out}: {problem}" in err and "loading model" not in err


def test_the_commands_default_to_the_model_the_worker_is_set_to(tiny_model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SSP_HOME", str(tmp_path / "home"))
    summary = tmp_path / "summary.txt"
    summary.write_text("The user will call the plumber tomorrow.")
    monkeypatch.setenv("SSP_MODEL", str(tiny_model_dir))
    assert main(["translate", str(summary), "--system", "planner", "--max-tokens", "40"]) == 0
    assert f"loading model {tiny_model_dir}" in capsys.readouterr().err
    monkeypatch.delenv("SSP_MODEL")
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "home" / "edge.json").write_text(json.dumps({"model": str(tmp_path / "not-a-model")}))
    assert main(["eval", "--system", "planner", "--no-record", "--limit", "1"]) == 1
    assert "not-a-model" in capsys.readouterr().err
    assert main(["translate", str(summary), "--model", str(tiny_model_dir), "--system", "planner"]) == 0
    assert f"loading model {tiny_model_dir}" in capsys.readouterr().err


def test_translate_refuses_standard_input_that_is_not_text_before_loading_the_model(tmp_path):
    command = [sys.executable, "-m", "edge_worker", "translate", "-", "--system", "planner"]
    command += ["--model", str(tmp_path / "no-such-model")]
    binary = subprocess.run(command, input=b"\xff\xfe\x00binary", capture_output=True, cwd=ROOT, timeout=120)
    assert binary.returncode == 2
    assert binary.stderr.decode().splitlines() == [
        "error: cannot decode the summary on standard input as UTF-8 (invalid start byte at byte 0)"
    ]
    closed = subprocess.run(
        ["bash", "-c", 'exec "$@" <&-', "sh", *command], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert closed.returncode == 2 and closed.stderr.startswith("error: standard input is closed")


def test_translate_refuses_a_temperature_that_is_not_a_number(tmp_path, capsys):
    summary = tmp_path / "summary.txt"
    summary.write_text("Something happened.")
    for value in ("nan", "inf", "-1"):
        assert main(["translate", str(summary), "--temperature", value, "--model", str(tmp_path / "none")]) == 2
        assert "--temperature must be a finite number, not negative" in capsys.readouterr().err
