"""`python -m edge_worker tune`: progress while it trains, the adoption decision, and clear errors."""

from __future__ import annotations

import json
import time

from test_tuning import NOTES

from edge_worker.cli import main
from edge_worker.model_store import adopted_adapters
from edge_worker.tuning import tune

BUDGET_S = 6.0  # of training


def _args(tmp_path, tiny_model_dir, *extra: str) -> list[str]:
    systems = tmp_path / "systems"
    systems.mkdir(exist_ok=True)
    (systems / "notes.json").write_text(json.dumps(NOTES.to_dict()))
    common = ["--systems-dir", str(systems), "--model", str(tiny_model_dir), "--rank", "2", "--num-layers", "1"]
    return ["tune", "--system", "notes", *common, "--iters", "2", "--max-tokens", "16", *extra]


def test_tune_shows_progress_adopts_and_says_the_cloud_gets_the_entry_later(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    monkeypatch.setenv("SSP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SSP_API_URL", raising=False)
    assert main(_args(tmp_path, tiny_model_dir, "--min-gain", "-1")) == 0
    out = capsys.readouterr()
    assert "iteration 1/2  loss " in out.err and "iteration 2/2" in out.err and "ETA" in out.err
    [version] = adopted_adapters().values()
    assert f"adopted {version}" in out.out and "sent with the first record" in out.out


def test_tune_rejects_without_a_gain_and_keeps_nothing(tmp_path, tiny_model_dir, monkeypatch, capsys):
    monkeypatch.setenv("SSP_HOME", str(tmp_path / "home"))
    assert main(_args(tmp_path, tiny_model_dir, "--min-gain", "1")) == 0
    assert "not adopted" in capsys.readouterr().out and adopted_adapters() == {}


def test_tune_refuses_bad_input_with_a_message(tmp_path, tiny_model_dir, monkeypatch, capsys):
    monkeypatch.setenv("SSP_HOME", str(tmp_path / "home"))
    assert main([*_args(tmp_path, tiny_model_dir), "--rank", "0"]) == 2
    assert "--rank must be positive" in capsys.readouterr().err
    args = _args(tmp_path, tiny_model_dir)
    args[args.index("notes")] = "nosuch"
    assert main(args) == 2
    assert "unknown system 'nosuch'" in capsys.readouterr().err
    assert not (tmp_path / "home" / "adapters").exists()


def test_tune_refuses_bad_budgets_and_token_caps(tmp_path, tiny_model_dir, monkeypatch, capsys):
    monkeypatch.setenv("SSP_HOME", str(tmp_path / "home"))
    for option, value, message in (
        ("--max-minutes", "-1", "--max-minutes must be a positive number"),
        ("--max-minutes", "nan", "--max-minutes must be a positive number"),
        ("--max-tokens", "0", "--max-tokens must be positive"),
    ):
        assert main([*_args(tmp_path, tiny_model_dir), option, value]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "home" / "adapters").exists()


def test_the_time_budget_counts_training_only(tmp_path, tiny_model_dir, monkeypatch, capsys):
    monkeypatch.setenv("SSP_HOME", str(tmp_path / "home"))
    args = _args(tmp_path, tiny_model_dir, "--iters", "3", "--min-gain", "1")
    score = tune.held_out_f1

    def slow_score(*given, **named):  # scoring the base model takes longer than the whole budget
        time.sleep(BUDGET_S + 2)
        return score(*given, **named)

    monkeypatch.setattr(tune, "held_out_f1", slow_score)
    assert main([*args, "--max-minutes", str(BUDGET_S / 60)]) == 0
    assert "iteration 3/3" in capsys.readouterr().err  # three tiny-model iterations take well under the budget


def test_tune_and_distill_say_why_a_system_is_missing(tmp_path, tiny_model_dir, monkeypatch, capsys):
    monkeypatch.setenv("SSP_HOME", str(tmp_path / "home"))
    args = _args(tmp_path, tiny_model_dir)
    (tmp_path / "systems" / "notes.json").write_text("{not json")
    assert main(args) == 2
    assert (
        f"system 'notes' is not usable: {tmp_path / 'systems' / 'notes.json'}: invalid JSON" in capsys.readouterr().err
    )
    assert main(["distill", "--system", "notes", "--count", "1", "--systems-dir", str(tmp_path / "systems")]) == 2
    assert "system 'notes' is not usable" in capsys.readouterr().err
    args[args.index("--systems-dir") + 1] = str(tmp_path / "nowhere")
    assert main(args) == 2
    assert f"--systems-dir {tmp_path / 'nowhere'}: no such folder" in capsys.readouterr().err


def test_tune_names_a_broken_distilled_file_and_line_before_loading_the_model(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SSP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SSP_API_URL", raising=False)
    distilled = tmp_path / "home" / "training" / "notes" / "distilled.jsonl"
    distilled.parent.mkdir(parents=True)
    row = {"summary_id": "s1", "text": "A note.", "document": {"title": "Note"}, "schema_version": "x"}
    for broken, problem in (('{"summary_id": "s2", "te', "not valid JSON"), ("[1, 2]", "must be a JSON object")):
        distilled.write_text(json.dumps(row) + "\n" + broken)
        args = _args(tmp_path, tmp_path / "no-model")
        assert main(args) == 1
        assert f"{distilled}, line 2: {problem}" in capsys.readouterr().err
