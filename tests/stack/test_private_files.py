"""`python -m local_stack up` keeps $SSP_HOME its user's only: folders 0700, files 0600 (logs, snapshot, objects,
tokens, edge settings, the edge's outbox), a dashboard token only on the terminal, never in a log file, and a home
an older version left open is tightened on start, said once."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from local_up import edge_command, up

SAMPLE_IDS = ("sample-nudge-0001", "sample-planner-0001", "sample-synapse-0001")
TIGHTENED = "readable by you only"


def _up(home: Path, *flags: str, wait_for: tuple[str, ...] = ()) -> list[str]:
    """Run `up` (with a common umask, 022) until Ready and each of `wait_for` is on the terminal, open the edge's
    outbox with `edge_worker status`, then Ctrl-C it; returns its terminal lines."""
    with up(home, *flags, umask=0o022) as run:
        for text in wait_for:
            run.read_until(text)
        status = edge_command(home, "status", umask=0o022)  # the edge's commands open its outbox under $SSP_HOME
        assert status.returncode == 0, status.stderr
    assert run.process.returncode == 0, "".join(run.lines)
    return run.lines


def _open_to_others(home: Path) -> list[str]:
    """Every path under `home` (itself included) that its group or other users can read, write or enter."""
    found = []
    for path in [home, *home.rglob("*")]:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode) and mode & 0o077:
            found.append(f"{oct(stat.S_IMODE(mode))} {path.relative_to(home.parent)}")
    return found


def test_up_keeps_every_file_private_and_no_token_in_the_logs_and_tightens_an_older_home(tmp_path):
    home = tmp_path / "home"
    terminal = "".join(_up(home, wait_for=tuple(f"summarized {session_id}" for session_id in SAMPLE_IDS)))
    tokens = json.loads((home / "local" / "tokens.json").read_text())
    dashboard = next(line for line in terminal.splitlines() if line.strip().startswith("Dashboard"))
    assert f"#token={tokens['dashboard']}" in dashboard  # the terminal's link opens the dashboard
    assert TIGHTENED not in terminal  # a fresh home had nothing to tighten

    kept = [home / "local" / "state" / "snapshot.json", home / "local" / "edge" / "outbox.sqlite3", home / "edge.json"]
    assert all(path.exists() for path in kept) and any((home / "local" / "state" / "objects").iterdir())
    assert _open_to_others(home) == []
    [log] = (home / "logs").glob("local-stack-*.log")
    text = log.read_text()
    assert "#token=ssp_…(redacted; see tokens.json)" in text and '"message":"summarized"' in text
    assert not [role for role, token in tokens.items() if token in text]

    older = home / "logs" / "local-stack-20000101-000000.log"  # as an older version left the home
    older.write_text(f"  Dashboard    http://127.0.0.1:1/#token={tokens['dashboard']}&ws=ws://127.0.0.1:2\n")
    for path in [home, *home.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    again = _up(home, "--no-samples")
    said = [line for line in again if TIGHTENED in line]
    assert len(said) == 1 and "took the tokens out of 1 older log file(s)" in said[0], "".join(again)
    assert _open_to_others(home) == []
    logs = "".join(path.read_text() for path in (home / "logs").glob("*.log"))
    assert logs.count("#token=ssp_…(redacted; see tokens.json)") == 3  # the older log's, and one per run
    assert not [role for role, token in tokens.items() if token in logs]
