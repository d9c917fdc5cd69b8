"""`python -m edge_worker tune`: progress while it trains, the adoption decision, and clear errors."""

from __future__ import annotations

import json

from test_tuning import NOTES

from edge_worker.cli import main
from edge_worker.model_store import adopted_adapters


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
