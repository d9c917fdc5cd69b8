"""Files under $SSP_HOME are their user's only: created 0600 in 0700 folders whatever the umask, and a home an
older version left at 0755/0644 tightened by `private_home`, symlinks left alone."""

from __future__ import annotations

import os
import plistlib
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_worker.config import PRIVATE_UMASK, open_private, private_dir, private_home, write_private
from edge_worker.launchd import agent_plist
from edge_worker.outbox import Outbox
from edge_worker.status import StatusFile, WorkerStatus
from local_stack.console import redact_old_logs


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture(autouse=True)
def common_umask() -> Iterator[None]:
    """Run each test with a common umask (022), and give the test process its own back after."""
    saved = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(saved)


def test_an_older_homes_open_folders_and_files_are_tightened_and_symlinks_left_alone(tmp_path):
    home = tmp_path / "home"
    outside = tmp_path / "shared.txt"
    outside.write_text("not ours to change")
    outside.chmod(0o644)
    files = ["logs/local-stack-20260101-000000.log", "local/tokens.json", "local/state/snapshot.json"]
    files += ["local/state/objects/abc", "local/edge/outbox.sqlite3", "local/edge/outbox.sqlite3-wal", "edge.json"]
    files += ["prefix-cache/m/p.safetensors", "training/planner/distilled.jsonl"]
    for name in files:
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text("x")
    (home / "models" / "tool").mkdir(parents=True)
    (home / "models" / "tool" / "run").write_text("#!/bin/sh\n")
    (home / "link").symlink_to(outside)
    for path in [home, *home.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or path.name == "run" else 0o644)

    tightened = private_home(home)

    assert os.umask(0o022) == PRIVATE_UMASK  # what the process creates from now on is private too
    every = [home, *home.rglob("*")]
    assert set(tightened) == {path for path in every if not path.is_symlink()}
    assert {mode(path) for path in every if path.is_dir()} == {0o700}
    assert {mode(home / name) for name in files} == {0o600}
    assert mode(home / "models" / "tool" / "run") == 0o700  # still runnable by its user
    assert mode(outside) == 0o644 and (home / "link").is_symlink()
    assert private_home(home) == []  # nothing left to say on the next start


def test_a_missing_home_is_created_private(tmp_path):
    assert private_home(tmp_path / "new" / "home") == []
    assert mode(tmp_path / "new") == 0o700 and mode(tmp_path / "new" / "home") == 0o700


def test_the_helpers_create_private_files_and_folders_under_a_common_umask(tmp_path):
    private_dir(tmp_path / "a" / "b")
    assert mode(tmp_path / "a") == mode(tmp_path / "a" / "b") == 0o700
    write_private(tmp_path / "a" / "b" / "data.json", "{}")
    assert mode(tmp_path / "a" / "b" / "data.json") == 0o600
    write_private(tmp_path / "a" / "blob", b"\x00")
    assert (tmp_path / "a" / "blob").read_bytes() == b"\x00" and mode(tmp_path / "a" / "blob") == 0o600
    old = tmp_path / "old.log"
    old.write_text("before\n")
    old.chmod(0o644)
    with open_private(old, "a", encoding="utf-8") as handle:
        handle.write("after\n")
    assert old.read_text() == "before\nafter\n" and mode(old) == 0o600
    assert sorted(path.name for path in tmp_path.rglob(".*.tmp")) == []


def test_the_edge_outbox_and_status_file_are_private_and_tightened_when_opened_or_written(tmp_path):
    state = tmp_path / "edge"
    outbox = Outbox(state / "outbox.sqlite3")
    outbox.add("PUT", "/x", {"a": 1})
    StatusFile(state / "status.json").write(WorkerStatus(), outbox=1, dead_letters=0, systems=[])
    assert mode(state) == 0o700
    assert {path.name: mode(path) for path in state.iterdir()} == {
        "outbox.sqlite3": 0o600,
        "outbox.sqlite3-wal": 0o600,
        "outbox.sqlite3-shm": 0o600,
        "status.json": 0o600,
    }
    outbox.close()
    for path in [state, *state.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    Outbox(state / "outbox.sqlite3").close()
    StatusFile(state / "status.json").write(WorkerStatus(), outbox=0, dead_letters=0, systems=[])
    assert mode(state) == 0o700 and {mode(path) for path in state.iterdir()} == {0o600}


def test_the_launchd_agent_runs_the_worker_with_a_private_umask():
    assert plistlib.loads(agent_plist())["Umask"] == 0o077


def test_tokens_an_older_version_logged_are_taken_out_of_its_log_files(tmp_path):
    token = "ssp_" + "A1b-_" * 8 + "xyz"
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "local-stack-1.log").write_text(f'Dashboard http://h/#token={token}&ws=x\n{{"k": "{token}"}}\n')
    (logs / "local-stack-2.log").write_text("no secret here; ssp_local-edge is a queue\n")
    assert redact_old_logs(tmp_path, "ssp_…(redacted)") == [logs / "local-stack-1.log"]
    assert (
        logs / "local-stack-1.log"
    ).read_text() == 'Dashboard http://h/#token=ssp_…(redacted)&ws=x\n{"k": "ssp_…(redacted)"}\n'
    assert mode(logs / "local-stack-1.log") == 0o600
    assert redact_old_logs(tmp_path, "ssp_…(redacted)") == []


def test_a_home_that_is_the_users_home_folder_keeps_its_other_files_as_they_are(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "public.txt").write_text("shared on purpose")
    (tmp_path / "public.txt").chmod(0o644)
    tmp_path.chmod(0o755)
    (tmp_path / "logs").mkdir(mode=0o755)
    (tmp_path / "logs" / "local-stack-20260101-000000.log").write_text("a log")
    tightened = private_home(tmp_path)
    assert (mode(tmp_path), mode(tmp_path / "public.txt")) == (0o755, 0o644)
    assert mode(tmp_path / "logs") == 0o700 and mode(tmp_path / "logs" / "local-stack-20260101-000000.log") == 0o600
    assert sorted(path.name for path in tightened) == ["local-stack-20260101-000000.log", "logs"]
