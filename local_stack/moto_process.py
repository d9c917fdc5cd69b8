"""A moto server (local_stack.moto_server: moto with DynamoDB's isolation) as a child process on loopback that dies
with its parent."""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
import sys
import time
import urllib.request

QUEUE_MESSAGES_PATH = "/_local_stack/queue-messages"  # every queued message, as JSON (moto_server.py)
STORED_COUNTS_PATH = "/_local_stack/stored-counts"  # items, object versions and messages per resource (tests)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """Ask Linux to end moto when the thread that started it ends (start the stack from a long-lived thread)."""
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: stop() still ends the child


class MotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host, self.port = host, port or free_port(host)
        self.url = f"http://{self.host}:{self.port}"
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "local_stack.moto_server", "-H", self.host, "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            start_new_session=True,
        )  # out of the terminal's Ctrl-C: the stack stops moto last, after its pollers
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1).close()
                return
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto server did not start on {self.url}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
