"""Every model call on one thread, which frees its MLX streams when the worker stops."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from edge_worker.model_thread import Cancelled, ModelThread

ROOT = Path(__file__).resolve().parents[2]


def test_calls_from_many_threads_run_on_one_thread_and_a_nested_call_runs_at_once():
    model = ModelThread()
    with ThreadPoolExecutor(4) as callers:
        idents = set(callers.map(lambda _: model.call(threading.get_ident), range(8)))
    assert len(idents) == 1 and threading.get_ident() not in idents
    assert model.call(lambda: model.call(threading.get_ident)) in idents  # waiting on itself would hang
    assert model.close(timeout=5)


def test_close_waits_for_queued_work_within_its_timeout_and_later_calls_are_cancelled():
    model, running, release, results = ModelThread(), threading.Event(), threading.Event(), []

    def work() -> str:
        running.set()
        release.wait(10)
        return "done"

    caller = threading.Thread(target=lambda: results.append(model.call(work)))
    caller.start()
    assert running.wait(10)
    assert not model.close(timeout=0.2)  # the work in flight still runs
    release.set()
    caller.join(10)
    assert results == ["done"]
    with pytest.raises(Cancelled):
        model.call(threading.get_ident)


def test_an_urgent_call_runs_inside_long_work_at_its_next_step_and_on_an_idle_thread():
    model, order, started, step = ModelThread(), [], threading.Event(), threading.Event()

    def long_work() -> None:  # a translation: run_urgent() between tokens
        order.append("long work starts")
        started.set()
        step.wait(10)
        model.run_urgent()
        order.append("long work ends")

    worker = threading.Thread(target=model.call, args=(long_work,))
    worker.start()
    assert started.wait(10)
    query = threading.Thread(target=model.call, args=(order.append, "urgent call"), kwargs={"urgent": True})
    query.start()
    while model._urgent.qsize() == 0:
        time.sleep(0.01)
    step.set()
    worker.join(10)
    query.join(10)
    assert order == ["long work starts", "urgent call", "long work ends"]
    assert model.call(threading.get_ident, urgent=True) != threading.get_ident()
    assert model.close(timeout=5)


EXIT_SCRIPT = textwrap.dedent("""
    import mlx.core as mx
    from edge_worker.model_thread import ModelThread

    def work():
        a = mx.random.normal((256, 256))
        for _ in range(5):
            a = a @ a
            mx.eval(a)
        return [a, a + 1]  # arrays made on the model thread outlive it, as a translator's caches do

    model = ModelThread()
    kept = model.call(work)
    assert model.close(timeout=30)
""")


def test_a_process_that_used_the_model_thread_exits_cleanly():
    """Without freeing the thread's streams, some 5 in 100 such processes abort at exit (SIGABRT)."""

    def run(_):
        return subprocess.run([sys.executable, "-c", EXIT_SCRIPT], cwd=ROOT, capture_output=True, text=True)

    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(run, range(60)))
    failures = [(r.returncode, r.stderr[-300:]) for r in runs if r.returncode != 0]
    assert failures == []


BUSY_SCRIPT = textwrap.dedent("""
    import threading, time
    from edge_worker.model_thread import ModelThread

    model = ModelThread()
    threading.Thread(target=model.call, args=(time.sleep, 600), daemon=True).start()
    time.sleep(0.2)
    print(model.close(timeout=0.2))
""")


def test_a_model_call_that_cannot_be_interrupted_does_not_hold_up_the_exit():
    run = subprocess.run([sys.executable, "-c", BUSY_SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stdout.strip()) == (0, "False")
