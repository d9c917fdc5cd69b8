"""`python -m local_stack` refuses an unusable API port with one line naming it and the valid range, exit 2."""

from __future__ import annotations

import pytest

from local_stack.cli import main


@pytest.fixture(autouse=True)
def _own_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SSP_HOME", str(tmp_path))  # never the developer's own data
    monkeypatch.delenv("SSP_LOCAL_PORT", raising=False)


def _error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_non_numeric_port_variable_is_named(monkeypatch, capsys):
    monkeypatch.setenv("SSP_LOCAL_PORT", "abc")
    assert main(["up", "--llm", "scripted", "--no-edge", "--no-samples"]) == 2
    line = _error_line(capsys)
    assert "SSP_LOCAL_PORT='abc'" in line and "0 to 65534" in line


def test_a_bad_port_variable_does_not_stop_help_or_invoke(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("SSP_LOCAL_PORT", "abc")
    with pytest.raises(SystemExit) as stopped:
        main(["up", "--help"])
    assert stopped.value.code == 0
    assert "--port" in capsys.readouterr().out
    assert main(["invoke", "IngestFunction", "--event", str(tmp_path / "missing.json")]) == 2
    assert "cannot read event" in _error_line(capsys)


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_an_out_of_range_port_is_named(port, capsys):
    assert main(["up", "--port", port, "--llm", "scripted", "--no-edge", "--no-samples"]) == 2
    line = _error_line(capsys)
    assert f"--port {port}" in line and "0 to 65534" in line


def test_the_highest_port_leaves_none_for_live_updates(monkeypatch, capsys):
    monkeypatch.setenv("SSP_LOCAL_PORT", "65535")
    assert main(["up", "--llm", "scripted", "--no-edge", "--no-samples"]) == 2
    line = _error_line(capsys)
    assert "SSP_LOCAL_PORT='65535'" in line and "live updates" in line and "65536" in line
