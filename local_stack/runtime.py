"""Run a template function's handler in its own worker processes, as Lambda runs each function apart.

Each execution environment is one worker process; an invocation that outlives the function's Timeout is ended
with its environment, as Lambda ends it, and the next invocation there starts cold. As on Lambda, a cold start's
init phase (starting the process, importing the handler) is not counted in the Timeout.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Telemetry = Callable[[dict[str, Any]], None]

_handler: Any = None
_handler_path = ""


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str
    invoked_function_arn: str
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"

    def __post_init__(self) -> None:
        self.restart_clock()

    def restart_clock(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _exit_when_orphaned(parent: int) -> None:
    # Not PR_SET_PDEATHSIG: it fires when the spawning *thread* ends, and pools spawn from request threads.
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


def _init_worker(environment: dict[str, str], handler_path: str, preload: tuple[str, ...]) -> None:
    global _handler_path
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is for the stack, which ends its workers
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    os.environ.update(environment)
    _handler_path = handler_path
    for module in preload:  # e.g. a test's fault injection hooks, loaded before the handler like an extension
        importlib.import_module(module)


def _error(error_type: str, exc: BaseException) -> dict:
    return {
        "ok": False,
        "error": {"errorType": error_type, "errorMessage": str(exc), "stackTrace": traceback.format_exception(exc)},
    }


def _load_handler() -> dict | None:
    """Import the handler (the init phase); Lambda's init error shape if it fails, tried again next call."""
    global _handler
    if _handler is None:
        try:
            module_name, function_name = _handler_path.rsplit(".", 1)
            _handler = getattr(importlib.import_module(module_name), function_name)
        except Exception as exc:
            return _error("Runtime.ImportModuleError", exc)
    return None


def _run(event: dict, context: LambdaContext) -> dict:
    failed = _load_handler()
    if failed:
        return failed
    try:
        return {"ok": True, "result": _handler(event, context)}
    except Exception as exc:  # the handler's error is Lambda's error response, not the runner's
        return _error(type(exc).__name__, exc)


class FunctionError(RuntimeError):
    """An invocation that failed. `redeliver_after_s`: how long its event must wait before it runs again (the rest
    of a dead worker's timeout, when the idempotency records it held in progress expire; 0 otherwise)."""

    def __init__(self, function: str, error: dict, redeliver_after_s: float = 0.0) -> None:
        super().__init__(f"{function} failed: {error['errorType']}: {error['errorMessage']}")
        self.error, self.redeliver_after_s = error, redeliver_after_s


class InvocationStopped(FunctionError):
    """The runtime was closed while the invocation ran: not the handler's failure; its event runs again later."""


class _Environment:
    """One execution environment: a pool of one worker process, started on its first invocation (a cold start)."""

    def __init__(self, pool_args: dict[str, Any]) -> None:
        self.pool = ProcessPoolExecutor(max_workers=1, **pool_args)
        self.initialized = False

    def initialize(self) -> None:
        """Start the worker and import the handler; like Lambda's init phase, not counted in the Timeout."""
        if not self.initialized:
            self.initialized = self.pool.submit(_load_handler).result() is None

    def processes(self) -> list[Any]:
        return list((self.pool._processes or {}).values())

    def died(self) -> bool:
        """Its worker ended while no invocation ran (killed, out of memory): nothing of an invocation was lost."""
        return self.initialized and (bool(self.pool._broken) or not all(p.is_alive() for p in self.processes()))

    def end(self) -> None:
        """Kill its worker at once (what Lambda does to an environment whose invocation timed out)."""
        processes = self.processes()
        for process in processes:
            process.kill()
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.join(timeout=5)


class FunctionRuntime:
    """Worker processes for one function, one per execution environment (its concurrency), started lazily."""

    def __init__(
        self,
        name: str,
        handler: str,
        environment: dict[str, str],
        *,
        memory_mb: int = 512,
        timeout_s: int = 30,
        concurrency: int = 2,
        preload: tuple[str, ...] = (),
        telemetry: Telemetry | None = None,
        start_method: str = "spawn",
    ) -> None:
        self.name, self.handler = name, handler
        self.telemetry = telemetry
        self.memory_mb, self.timeout_s = memory_mb, timeout_s
        self._pool_args: dict[str, Any] = dict(
            mp_context=multiprocessing.get_context(start_method),
            initializer=_init_worker,
            initargs=(environment, handler, preload),
        )
        self._environments = [_Environment(self._pool_args) for _ in range(concurrency)]
        self._idle: queue.Queue[_Environment] = queue.Queue()
        for environment_ in self._environments:
            self._idle.put(environment_)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.invocations = 0  # started so far, and how many of them have not returned (LocalStack.idle reads both)
        self.running = 0

    def worker_pids(self) -> list[int]:
        with self._lock:
            return [process.pid for env in self._environments for process in env.processes()]

    def invoke(self, event: dict) -> Any:
        """Run the handler in an idle environment (waiting for one, as concurrency limits); raise FunctionError
        with Lambda's error shape if it raised, died, or ran past the function's Timeout."""
        with self._lock:
            self.invocations += 1
            self.running += 1
        try:
            return self._invoke(event)
        finally:
            with self._lock:
                self.running -= 1

    def _invoke(self, event: dict) -> Any:
        environment = self._idle.get()
        try:
            context = LambdaContext(
                function_name=self.name,
                memory_limit_in_mb=self.memory_mb,
                timeout_seconds=self.timeout_s,
                aws_request_id=str(uuid.uuid4()),
                invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{self.name}",
            )
            self._emit("platform.start", context.aws_request_id)
            began = time.monotonic()
            try:
                if environment.died() and not self._closing.is_set():  # Lambda would start a fresh one: no error
                    environment = self._replace(environment)
                environment.initialize()
                context.restart_clock()
                outcome = environment.pool.submit(_run, event, context).result(timeout=self.timeout_s)
            except FutureTimeout as exc:
                environment = self._replace(environment)
                message = f"{context.aws_request_id} Task timed out after {self.timeout_s:.2f} seconds"
                outcome = {"ok": False, "error": {"errorType": "Sandbox.Timedout", "errorMessage": message}}
                self._report(context.aws_request_id, began, outcome, status="timeout")
                raise FunctionError(self.name, {**outcome["error"], "stackTrace": []}) from exc
            except (RuntimeError, CancelledError) as exc:  # BrokenProcessPool, or a pool already shut down
                if self._closing.is_set():  # ended by close(), not by the handler
                    message = "the local stack stopped during the invocation"
                    outcome = {"ok": False, "error": {"errorType": "Runtime.ExitError", "errorMessage": message}}
                    self._report(context.aws_request_id, began, outcome, status="stopped")
                    raise InvocationStopped(self.name, {**outcome["error"], "stackTrace": []}) from exc
                if not isinstance(exc, BrokenProcessPool):
                    raise
                environment = self._replace(environment)  # the worker died: Lambda starts a fresh environment
                outcome = {"ok": False, "error": {"errorType": "Runtime.ExitError", "errorMessage": str(exc)}}
                self._report(context.aws_request_id, began, outcome, status="error")
                held = max(0.0, self.timeout_s - (time.monotonic() - began))
                raise FunctionError(self.name, {**outcome["error"], "stackTrace": []}, redeliver_after_s=held) from exc
        finally:
            self._idle.put(environment)
        self._report(context.aws_request_id, began, outcome, status="success" if outcome["ok"] else "error")
        if not outcome["ok"]:
            raise FunctionError(self.name, outcome["error"])
        return outcome["result"]

    def _emit(self, kind: str, request_id: str, **fields: Any) -> None:
        """A platform event shaped like Lambda's JSON log format (`platform.start`, `platform.report`)."""
        if self.telemetry:
            record = {"requestId": request_id, "functionName": self.name, **fields}
            self.telemetry({"time": datetime.now(UTC).isoformat(), "type": kind, "record": record})

    def _report(self, request_id: str, began: float, outcome: dict, status: str) -> None:
        error = {} if outcome["ok"] else outcome["error"]
        self._emit(
            "platform.report",
            request_id,
            status=status,
            durationMs=round((time.monotonic() - began) * 1000, 1),
            **{key: error[key] for key in ("errorType", "errorMessage") if key in error},
        )

    def _replace(self, environment: _Environment) -> _Environment:
        environment.end()
        fresh = _Environment(self._pool_args)
        with self._lock:
            self._environments[self._environments.index(environment)] = fresh
        return fresh

    def close(self, grace_s: float = 0.5) -> None:
        """Stop the workers; an invocation still running after the grace period is ended and raises
        InvocationStopped."""
        self._closing.set()
        with self._lock:
            environments = list(self._environments)
        processes = [process for env in environments for process in env.processes()]
        for env in environments:
            env.pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + grace_s
        for process in processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
