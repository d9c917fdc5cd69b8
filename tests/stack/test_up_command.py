"""`python -m local_stack up` starts, says where it listens, refuses a second stack on the same data, and Ctrl-C
leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_up_serves_then_stops_cleanly_on_ctrl_c(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "local_stack", "up", "--port", "0", "--llm", "scripted", "--no-samples", "--no-edge"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "SSP_HOME": str(tmp_path)},  # not the developer's own data
        start_new_session=True,
    )
    lines, api_url = [], None
    deadline = time.monotonic() + 60
    while api_url is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "HTTP API" in line:
            api_url = line.split()[-1]
    assert api_url, "".join(lines)
    assert any("ready in" in line for line in lines)
    response = httpx.get(f"{api_url}/summaries")
    assert response.status_code == 401  # served by the local gateway, which asks for a token
    assert _descendants(process.pid), "the moto server should be a child process"

    helpers = _descendants(process.pid)  # now with the authorizer's worker process

    settings = tmp_path / "edge.json"
    written = settings.read_bytes()
    second = subprocess.run(
        [sys.executable, "-m", "local_stack", "up", "--port", "0", "--llm", "scripted", "--no-samples", "--no-edge"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "SSP_HOME": str(tmp_path)},
        timeout=60,
    )
    assert second.returncode == 2, second.stdout + second.stderr
    assert f"another local stack (pid {process.pid}) is running on the data in {tmp_path / 'local'}" in second.stderr
    assert "SSP_HOME=" in second.stderr and settings.read_bytes() == written  # the first stack's settings untouched

    os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches every process in the group
    assert process.wait(timeout=30) == 0
    rest = process.stdout.read()
    assert "Traceback" not in rest, rest[-3000:]
    assert "stopped" in rest.splitlines()[-1]
    time.sleep(0.5)
    assert not [pid for pid in helpers if _alive(pid)]
