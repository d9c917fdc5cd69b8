"""`python -m edge_worker.cli`: subcommands, exit codes and messages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlx.core as mx
import pytest
from tiny_gguf import write_tiny_gguf

from edge_worker.cli import build_parser, main, register_systems_command
from schemas.system_definition import default_systems_dir

ROOT = Path(__file__).resolve().parents[2]


def test_systems_lists_every_definition_with_its_versions(capsys: pytest.CaptureFixture[str]):
    assert main(["systems"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["nudge", "planner", "synapse"]
    for line in lines:
        assert "\tsystem:" in line and "\tschema:" in line


def test_systems_reports_broken_files_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    shutil.copytree(default_systems_dir(), tmp_path / "systems")
    (tmp_path / "systems" / "broken.json").write_text("{not json", encoding="utf-8")
    assert main(["systems", "--dir", str(tmp_path / "systems")]) == 1
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 3
    assert f"broken: {tmp_path / 'systems' / 'broken.json'}: invalid JSON" in captured.err
    assert "1 broken system definition" in captured.err


def test_import_gguf_writes_a_model_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    write_tiny_gguf(tmp_path / "tiny.gguf", tied=True)
    assert main(["import-gguf", str(tmp_path / "tiny.gguf"), str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(tmp_path / "out")
    assert "importing tensors" in captured.err
    assert json.loads((tmp_path / "out" / "config.json").read_text())["model_type"] == "llama"

    assert main(["import-gguf", str(tmp_path / "tiny.gguf"), str(tmp_path / "out")]) == 1
    assert "already exists" in capsys.readouterr().err

    assert (
        main(["import-gguf", "--dtype", "float16", "--overwrite", str(tmp_path / "tiny.gguf"), str(tmp_path / "out")])
        == 0
    )
    weights = mx.load(str(tmp_path / "out" / "model.safetensors"))
    assert weights["model.layers.0.self_attn.q_proj.scales"].dtype == mx.float16
    assert weights["model.norm.weight"].dtype == mx.float16


def test_import_gguf_names_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["import-gguf", str(tmp_path / "missing.gguf"), str(tmp_path / "out")]) == 1
    assert "missing.gguf: no such file" in capsys.readouterr().err


def test_prepare_model_prints_the_folder(capsys: pytest.CaptureFixture[str]):
    assert main(["prepare-model"]) == 0
    folder = Path(capsys.readouterr().out.strip())
    assert (folder / "model.safetensors").is_file()


def test_subcommands_can_be_registered_from_elsewhere(capsys: pytest.CaptureFixture[str]):
    def register_hello(subparsers):
        hello = subparsers.add_parser("hello")
        hello.add_argument("--name", default="edge")
        hello.set_defaults(handler=lambda args: print(f"hello {args.name}") or 0)

    parser = build_parser([register_systems_command, register_hello])
    args = parser.parse_args(["hello", "--name", "mac"])
    assert args.handler(args) == 0
    assert capsys.readouterr().out == "hello mac\n"


def test_module_entry_point_runs_and_rejects_unknown_commands():
    ok = subprocess.run([sys.executable, "-m", "edge_worker", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0 and "prepare-model" in ok.stdout and "import-gguf" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "edge_worker.cli", "fly"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice: 'fly'" in bad.stderr


def test_a_command_whose_reader_went_away_exits_quietly(tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `ssp-edge systems | head` once head is done: every write fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "edge_worker", "systems"],
            cwd=ROOT,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "SSP_HOME": str(tmp_path)},
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141 and "Traceback" not in done.stderr, done.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SSP_BLAS is read on Linux only")
def test_a_blas_library_that_cannot_be_loaded_is_named_once(tmp_path):
    not_a_library = tmp_path / "libblas.so"
    not_a_library.write_text("not a library")
    for path, problem in ((tmp_path / "missing.so", "is not a file"), (not_a_library, "cannot be loaded")):
        done = subprocess.run(
            [sys.executable, "-m", "edge_worker", "systems"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "SSP_BLAS": str(path), "SSP_HOME": str(tmp_path)},
            timeout=120,
        )
        assert done.returncode == 0
        [warning] = [line for line in done.stderr.splitlines() if "SSP_BLAS" in line]
        assert warning.startswith(f"warning: SSP_BLAS={path} {problem}")


def test_import_gguf_names_a_directory_given_as_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["import-gguf", str(tmp_path), str(tmp_path / "out")]) == 1
    assert f"{tmp_path}: is a directory, not a GGUF file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_unknown_option_is_reported_with_its_commands_usage(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["systems", "--bogus"])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert "usage: ssp-edge systems" in err and "ssp-edge systems: error: unrecognized arguments: --bogus" in err
