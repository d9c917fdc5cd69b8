"""The edge survives SIGKILL, API outages, new system files and a second worker, without losing or doubling work."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from edge_helpers import SlowTranslator, edge_busy, edge_worker
from stack_helpers import (
    api_client,
    make_token,
    queue_messages,
    running_stack,
    session_body,
    settle,
    wait_for,
    wait_for_stack,
)
from tiny_model import build_tiny_model

from schemas.system_definition import default_systems_dir, load_systems

ROOT = Path(__file__).resolve().parents[2]
SYSTEMS = sorted(load_systems().systems)


def _post(stack, count: int, prefix: str) -> list[str]:
    ids = [f"{prefix}-{n}" for n in range(count)]
    with api_client(stack, make_token(stack, ["ingest"], source="planner", name=f"ingest-{prefix}")) as client:
        for session_id in ids:
            assert client.post("/sessions", json=session_body(session_id, text=f"Plan {session_id}")).status_code == 202
    return ids


def _histories(reader, summary_id: str, systems: list[str]) -> dict[str, list[int]]:
    return {
        system: [e["version"] for e in reader.get(f"/summaries/{summary_id}/systems/{system}/history").json()["items"]]
        for system in systems
    }


def _all_translated(reader, ids: list[str], systems: list[str]) -> bool:
    return all(len(reader.get(f"/summaries/{i}").json().get("records", [])) == len(systems) for i in ids)


def test_sigkill_mid_translation_then_restart_translates_each_once(tmp_path):
    model_dir = build_tiny_model(tmp_path / "model")
    with running_stack() as stack:
        env = {
            **os.environ,
            **stack.aws_environment(),
            "SSP_HOME": str(tmp_path / "home"),
            "SSP_API_URL": stack.api_url,
            "SSP_EDGE_QUEUE_URL": stack.resolved("EdgeQueue"),
            "SSP_API_TOKEN": make_token(stack, ["edge"], name="edge"),
            "SSP_MODEL": str(model_dir),
            "SSP_WAIT_SECONDS": "1",
            "SSP_VISIBILITY_SECONDS": "10",
            "PYTHONUNBUFFERED": "1",
        }
        reader = api_client(stack, make_token(stack, ["read"], name="reader"))
        ids = _post(stack, 3, "kill")

        logs = [tmp_path / "first.log", tmp_path / "second.log"]

        def start_worker(log: Path):
            with log.open("w") as out:
                return subprocess.Popen(
                    [sys.executable, "-m", "edge_worker", "run"],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )

        first = start_worker(logs[0])
        busy = edge_busy(stack)  # the worker process's own outbox is not read here: the API stays up
        wait_for_stack(stack, lambda: any(reader.get(f"/summaries/{i}").json().get("records") for i in ids), busy=busy)
        assert not _all_translated(reader, ids, SYSTEMS), "the worker finished before it could be killed"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

        second = start_worker(logs[1])
        try:
            wait_for_stack(stack, lambda: _all_translated(reader, ids, SYSTEMS), busy=busy, interval=1)
            wait_for_stack(stack, lambda: queue_messages(stack, "EdgeQueue") == 0, busy=busy)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=120) == 0, logs[1].read_text()[-3000:]
        for summary_id in ids:
            assert _histories(reader, summary_id, SYSTEMS) == {system: [1] for system in SYSTEMS}
        reader.close()


class SwitchableProxy:
    """Forwards to the API; while `down`, PUT requests are cut off without an answer (a lost network)."""

    def __init__(self, target: str) -> None:
        self.target, self.down = target, threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                if proxy.down.is_set() and self.command == "PUT":
                    self.close_connection = True
                    self.connection.close()
                    return
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                answer = httpx.request(self.command, proxy.target + self.path, content=body, headers=headers)
                self.send_response(answer.status_code)
                self.send_header("content-type", answer.headers.get("content-type", "application/json"))
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_PUT = do_POST = _forward

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_results_wait_in_the_outbox_while_the_api_is_away_and_survive_a_restart(tiny_translator, tmp_path):
    with running_stack() as stack:
        proxy = SwitchableProxy(stack.api_url)
        reader = api_client(stack, make_token(stack, ["read"], name="reader"))
        try:
            with edge_worker(
                stack, tiny_translator, tmp_path / "edge", api_url=proxy.url, flush_seconds=3600
            ) as worker:
                proxy.down.set()
                ids = _post(stack, 2, "offline")
                wait_for_stack(stack, lambda: worker.outbox.size() >= 2 * len(SYSTEMS), busy=edge_busy(stack))
                assert all(not reader.get(f"/summaries/{i}").json().get("records") for i in ids)
            proxy.down.clear()  # the API is back; the first worker is gone, its outbox file remains
            with edge_worker(stack, tiny_translator, tmp_path / "edge", api_url=proxy.url, flush_seconds=0.5) as again:
                wait_for_stack(stack, lambda: _all_translated(reader, ids, SYSTEMS), busy=edge_busy(stack, again))
            for summary_id in ids:
                assert _histories(reader, summary_id, SYSTEMS) == {system: [1] for system in SYSTEMS}
        finally:
            proxy.close()
            reader.close()


def test_new_system_file_is_backfilled_without_restart_and_a_broken_one_is_ignored(tiny_translator, tmp_path):
    systems_dir = tmp_path / "systems"
    shutil.copytree(default_systems_dir(), systems_dir)
    with running_stack() as stack, edge_worker(stack, tiny_translator, tmp_path / "edge", [systems_dir]) as worker:
        reader = api_client(stack, make_token(stack, ["read"], name="reader"))
        ids = _post(stack, 2, "reload")
        wait_for_stack(stack, lambda: _all_translated(reader, ids, SYSTEMS), busy=edge_busy(stack, worker))

        (systems_dir / "broken.json").write_text('{"name": "broken", "schema": ')
        fitness = json.loads((systems_dir / "nudge.json").read_text())
        fitness["name"], fitness["description"] = "fitness", "Workouts the user plans."
        (systems_dir / "fitness.json").write_text(json.dumps(fitness))

        wait_for(lambda: _all_translated(reader, ids, SYSTEMS + ["fitness"]), timeout=120)
        assert any("broken.json" in problem for problem in worker.status.broken_files)
        names = [s["name"] for s in reader.get("/systems").json()["items"]]
        assert names == sorted(SYSTEMS + ["fitness"])
        assert worker._threads and all(t.is_alive() for t in worker._threads)
        reader.close()


def test_two_workers_on_one_queue_never_both_store_a_version(tiny_translator, tmp_path):
    with (
        running_stack() as stack,
        edge_worker(stack, tiny_translator, tmp_path / "a") as first,
        edge_worker(stack, tiny_translator, tmp_path / "b") as second,
    ):
        reader = api_client(stack, make_token(stack, ["read"], name="reader"))
        ids = _post(stack, 4, "pair")
        busy = edge_busy(stack, first, second)
        wait_for_stack(stack, lambda: _all_translated(reader, ids, SYSTEMS), busy=busy)
        refresh = api_client(stack, make_token(stack, ["refresh"], name="refresher"))
        request = refresh.post("/refresh", json={"summary_id": ids[0], "system": "planner"}).json()
        wait_for_stack(
            stack, lambda: refresh.get(f"/refresh/{request['request_id']}").json()["status"] == "done", busy=busy
        )
        # A second copy of the refresh's message would be in the queue or an outbox until it is stored.
        settle(stack, busy=busy)
        for summary_id in ids:
            assert _histories(reader, summary_id, SYSTEMS) == {system: [1] for system in SYSTEMS}
        reader.close()
        refresh.close()


def test_stop_past_the_grace_period_gives_the_message_back_at_once_and_stores_nothing(tiny_translator, tmp_path):
    slow = SlowTranslator(tiny_translator)
    with running_stack() as stack:
        reader = api_client(stack, make_token(stack, ["read"], name="reader"))
        with edge_worker(stack, slow, tmp_path / "slow", visibility_seconds=600) as worker:
            [summary_id] = _post(stack, 1, "grace")
            assert slow.started.wait(120), "the translation never started"
            worker.stop(grace_s=0.5)
            assert not any(thread.is_alive() for thread in worker._threads)
            assert worker.status.last_error is None
            attributes = stack.client("sqs").get_queue_attributes(
                QueueUrl=stack.resolved("EdgeQueue"), AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
            )
            assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0"  # not held for 600 s
            assert not reader.get(f"/summaries/{summary_id}").json().get("records")
        with edge_worker(stack, tiny_translator, tmp_path / "next") as resumed:
            wait_for_stack(
                stack, lambda: _all_translated(reader, [summary_id], SYSTEMS), busy=edge_busy(stack, resumed)
            )
        assert _histories(reader, summary_id, SYSTEMS) == {system: [1] for system in SYSTEMS}
        reader.close()
