"""The terminal of `local_stack up`: human lines on the terminal, every log line in a file under $SSP_HOME/logs/.

The process's stdout and stderr (file descriptors 1 and 2, inherited by the function worker processes) are
redirected into a pipe; a reader thread writes each line to the run's log file and hands the structured ones to
`local_stack.progress`, whose human lines go to the terminal. `verbose` also copies every line to the terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from edge_worker.config import open_private, private_dir, write_private
from local_stack.progress import Progress, parse

KEPT_RUNS = 10  # log files of older runs are deleted
TOKEN = re.compile(rb"ssp_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")  # functions.stores.tokens: prefix + token_urlsafe(32)


def logs_dir(home: Path) -> Path:
    return home / "logs"


def new_log_path(home: Path, now: float | None = None) -> Path:
    """`$SSP_HOME/logs/local-stack-YYYYmmdd-HHMMSS.log` for this run; older runs beyond KEPT_RUNS are deleted."""
    folder = logs_dir(home)
    private_dir(folder)
    runs = sorted(folder.glob("local-stack-*.log"))
    for old in runs[: max(0, len(runs) - KEPT_RUNS + 1)]:
        with contextlib.suppress(OSError):
            old.unlink()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    path, n = folder / f"local-stack-{stamp}.log", 1
    while path.exists():
        n += 1
        path = folder / f"local-stack-{stamp}-{n}.log"
    return path


def redact_old_logs(home: Path, shown: str) -> list[Path]:
    """Rewrite the log files of earlier runs that hold a token (older versions logged the dashboard link) with
    `shown` in its place; returns the files rewritten."""
    rewritten = []
    for path in sorted(logs_dir(home).glob("local-stack-*.log")):
        try:
            text = path.read_bytes()
            redacted = TOKEN.sub(shown.encode(), text)
            if redacted != text:
                write_private(path, redacted)
                rewritten.append(path)
        except OSError:
            continue  # deleted meanwhile, or not this user's
    return rewritten


class Console:
    """Owns the terminal while the stack runs. Use as a context manager; `say` prints a human line."""

    def __init__(
        self,
        log_path: Path,
        verbose: bool = False,
        progress: Progress | None = None,
        on_terminal_gone: Callable[[], None] | None = None,
    ) -> None:
        """`on_terminal_gone`: called once when the terminal's reader went away (`up | head`); the log file goes
        on."""
        self.log_path, self.verbose = log_path, verbose
        self.progress = progress or Progress()
        self.on_terminal_gone, self.terminal_gone = on_terminal_gone, False
        self._lock = threading.Lock()
        self._describing = threading.Lock()
        self._log: IO[str] | None = None
        self._terminal: IO[str] | None = None
        self._saved: dict[int, int] = {}
        self._reader: threading.Thread | None = None
        self._redacted: dict[str, str] = {}

    def redact(self, secret: str, shown: str) -> None:
        """From now on write `secret` to the log file as `shown`; the terminal still shows it."""
        if secret:
            with self._lock:
                self._redacted[secret] = shown

    def _to_log(self, text: str) -> None:
        """Write a line to the log file (the lock held), its secrets redacted."""
        assert self._log is not None
        for secret, shown in self._redacted.items():
            text = text.replace(secret, shown)
        self._log.write(text + "\n")

    def __enter__(self) -> Console:
        self._log = open_private(self.log_path, "a", encoding="utf-8", buffering=1)
        sys.stdout.flush()
        sys.stderr.flush()
        self._saved = {fd: os.dup(fd) for fd in (1, 2)}
        self._terminal = os.fdopen(os.dup(self._saved[1]), "w", buffering=1, encoding="utf-8", errors="replace")
        read_end, write_end = os.pipe()
        os.dup2(write_end, 1)
        os.dup2(write_end, 2)
        os.close(write_end)
        self._reader = threading.Thread(target=self._read, args=(read_end,), name="console", daemon=True)
        self._reader.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, saved in self._saved.items():  # the pipe's last write ends close here (workers are gone by now)
            os.dup2(saved, fd)
            os.close(saved)
        if self._reader:
            self._reader.join(timeout=0.5)  # helper processes (multiprocessing's resource tracker) keep the pipe open
        with self._lock:
            if self._log:
                self._log.close()
                self._log = None
            if self._terminal:
                self._terminal.close()
                self._terminal = None

    # ----- output -----
    def say(self, text: str) -> None:
        """A human line: on the terminal, and in the log file."""
        with self._lock:
            if self._terminal:
                self._to_terminal(text)
            elif not self.terminal_gone:
                print(text, flush=True)
            if self._log:
                self._to_log(text)

    def _to_terminal(self, text: str) -> None:
        """Write a line to the terminal (the lock held); a reader that went away ends the terminal, not the logs."""
        assert self._terminal is not None
        try:
            self._terminal.write(text + "\n")
        except BrokenPipeError:
            with contextlib.suppress(OSError):
                self._terminal.close()
            self._terminal, self.terminal_gone = None, True
            if self.on_terminal_gone:
                self.on_terminal_gone()

    def event(self, record: dict[str, Any]) -> None:
        """A structured event from this process (the runtime's platform events): logged, and described."""
        self._line(json.dumps(record, default=str))

    def _line(self, line: str) -> None:
        record = parse(line)
        with self._lock:
            if self._log:
                self._to_log(line)
            if self.verbose and self._terminal:
                self._to_terminal(line)
        try:
            with self._describing:  # records come from the pipe's reader and from invoking threads
                human = self.progress.describe(record) if record is not None else None
        except Exception as exc:  # a record of an unexpected shape: keep reading the logs
            human = f"(unreadable log record: {exc!r})"
        if human and not self.verbose:
            self.say(human)
        elif human:
            with self._lock:
                if self._terminal:
                    self._to_terminal(f">> {human}")

    def _read(self, read_end: int) -> None:
        with os.fdopen(read_end, "r", encoding="utf-8", errors="replace") as pipe:
            for line in pipe:
                self._line(line.rstrip("\n"))
