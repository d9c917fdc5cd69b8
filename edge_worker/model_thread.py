"""The one thread that runs a local model.

MLX is not thread-safe, and a thread that used it must free its streams (`mx.clear_streams`) before it
ends, or the process can abort at exit. So every model call goes through here.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
_CLOSE = object()
_WAKE = object()  # an urgent call is waiting and the thread may be idle


class Cancelled(RuntimeError):
    """Model work given up because its owner is stopping."""


def release_streams() -> None:
    import mlx.core as mx

    mx.clear_streams()


class ModelThread:
    """A daemon thread, so that a forward pass which cannot be interrupted never holds up the exit.

    An urgent call (a search query's embedding) runs before the queued ones, and also inside long work
    that calls `run_urgent()` between its steps (a translation does, between tokens).
    """

    def __init__(self, name: str = "model") -> None:
        self._calls: queue.Queue = queue.Queue()
        self._urgent: queue.Queue = queue.Queue()
        self._lock = threading.Lock()  # no call is queued after the close marker
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def call(self, fn: Callable[..., T], /, *args: Any, urgent: bool = False, **kwargs: Any) -> T:
        """Run fn on the model thread and wait for it; a call made from the model thread runs at once."""
        if threading.current_thread() is self._thread:
            return fn(*args, **kwargs)
        future: Future = Future()
        with self._lock:
            if self._closed:
                raise Cancelled("the model thread is closed")
            if urgent:
                self._urgent.put((future, fn, args, kwargs))
                self._calls.put(_WAKE)
            else:
                self._calls.put((future, fn, args, kwargs))
        return future.result()

    def run_urgent(self) -> None:
        """On the model thread, between the steps of long work: run the urgent calls waiting now."""
        if threading.current_thread() is not self._thread:
            return
        while True:
            try:
                item = self._urgent.get_nowait()
            except queue.Empty:
                return
            _run(*item)

    def close(self, timeout: float) -> bool:
        """Finish the calls already queued, then free the thread's MLX streams; False if still busy after timeout."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._calls.put(_CLOSE)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _serve(self) -> None:
        while (item := self._calls.get()) is not _CLOSE:
            self.run_urgent()
            if item is not _WAKE:
                _run(*item)
        self.run_urgent()
        release_streams()


def _run(future: Future, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    if future.set_running_or_notify_cancel():
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # handed to the caller, who re-raises it
            future.set_exception(error)
