"""`python -m local_stack up` run as a newcomer runs it: a subprocess with a fresh $SSP_HOME and none of the test
run's AWS or SSP settings, its terminal lines read as they come, stopped with Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Not inherited from the test run: a newcomer's shell has none of these.
UNSET = ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
UNSET += (
    "SSP_API_URL",
    "SSP_EDGE_QUEUE_URL",
    "SSP_API_TOKEN",
    "SSP_LOCAL_PORT",
    "ANTHROPIC_API_KEY",
    "SSP_EDGE_STATE_DIR",
)


def environment(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in UNSET}
    return {**env, "SSP_HOME": str(home), "PYTHONUNBUFFERED": "1"}


class Run:
    def __init__(self, process: subprocess.Popen, lines: list[str]) -> None:
        self.process, self.lines = process, lines

    def line(self, label: str) -> str:
        return next(line for line in self.lines if line.strip().startswith(label))

    @property
    def api_url(self) -> str:
        return self.line("HTTP API").split()[-1]

    def read_until(self, text: str, limit: int = 400) -> list[str]:
        """Terminal lines up to the first one containing `text` (fails at EOF)."""
        while not any(text in line for line in self.lines):
            line = self.process.stdout.readline()
            assert line and len(self.lines) < limit, "".join(self.lines)
            self.lines.append(line)
        return self.lines


@contextlib.contextmanager
def up(home: Path, *flags: str, umask: int = -1) -> Iterator[Run]:
    """The stack running until Ready (its terminal lines in the Run); Ctrl-C when the block ends. `umask`: the
    process's (-1: this one's)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "local_stack", "up", "--port", "0", "--llm", "scripted", "--no-edge", *flags],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment(home),
        start_new_session=True,
        umask=umask,
    )
    run = Run(process, [])
    try:
        run.read_until("Ready.")
        yield run
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
        if process.stdout.closed:  # the test played a terminal whose reader went away
            process.wait(timeout=60)
        else:
            rest, _ = process.communicate(timeout=60)
            run.lines += rest.splitlines(keepends=True)


def edge_command(home: Path, *args: str, umask: int = -1) -> subprocess.CompletedProcess:
    """`python -m edge_worker ARGS` as the newcomer's shell runs it beside `up` (same $SSP_HOME)."""
    return subprocess.run(
        [sys.executable, "-m", "edge_worker", *args],
        cwd=ROOT,
        env=environment(home),
        capture_output=True,
        text=True,
        timeout=60,
        umask=umask,
    )
