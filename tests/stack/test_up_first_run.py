"""`python -m local_stack up` as a newcomer meets it: human lines on the terminal and JSON logs in a file, data and
the dashboard token kept across a restart, `--reset` starting clean, edge.json that the edge commands use with no
variables, and a taken port named with how to choose another."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys

import httpx
from local_up import ROOT, edge_command, environment, up
from stack_helpers import wait_for

SAMPLE_IDS = {"sample-nudge-0001", "sample-planner-0001", "sample-synapse-0001"}


def _summaries(api_url: str, token: str) -> httpx.Response:
    return httpx.get(f"{api_url}/summaries", headers={"authorization": f"Bearer {token}"}, timeout=30)


def _all_summarized(api_url: str, token: str) -> dict[str, dict] | None:
    items = {item["session_id"]: item for item in _summaries(api_url, token).json()["items"]}
    done = set(items) == SAMPLE_IDS and all(item["status"] == "SUMMARIZED" for item in items.values())
    return items if done else None


def test_restart_keeps_data_and_token_reset_starts_clean_and_the_edge_commands_reach_the_stack(tmp_path):
    home = tmp_path / "home"
    with up(home) as first:
        tokens = json.loads((home / "local" / "tokens.json").read_text())
        dashboard = first.line("Dashboard")
        assert f"#token={tokens['dashboard']}" in dashboard
        before = wait_for(lambda: _all_summarized(first.api_url, tokens["dashboard"]), timeout=120, interval=0.5)
        for session_id in SAMPLE_IDS:
            first.read_until(f"summarized {session_id}")

        edge_json = json.loads((home / "edge.json").read_text())
        edge_token = (home / "local" / "edge-token").read_text().strip()
        assert edge_token == tokens["edge"] and edge_token not in json.dumps(edge_json)
        assert stat.S_IMODE((home / "local" / "edge-token").stat().st_mode) == 0o600
        assert edge_json["queue_url"] in first.line("Edge queue")
        assert edge_json["backfill_queue_url"] and edge_json["query_queue_url"] and edge_json["region"]
        status = edge_command(home, "status")
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert "queue_error" not in report, report
        assert report["queue_waiting"] + report["queue_in_flight"] >= 3  # one translate request per summary
    terminal = "".join(first.lines)
    assert first.process.returncode == 0, terminal
    for session_id, source in (("sample-nudge-0001", "nudge"), ("sample-planner-0001", "planner")):
        assert f"received {session_id} from {source}" in terminal
        assert f"summarizing {session_id}\n" in terminal and f"summarized {session_id} in " in terminal
    assert not [line for line in first.lines if line.lstrip().startswith("{")], terminal  # JSON goes to the file
    assert "Traceback" not in terminal
    assert "stopped; kept" in first.lines[-1]
    logs = list((home / "logs").glob("local-stack-*.log"))
    assert len(logs) == 1 and '"message":"summarized"' in logs[0].read_text()

    with up(home) as second:
        assert "kept from the last run" in second.line("Tokens")
        assert "restored" in second.line("Data")
        after = _all_summarized(second.api_url, tokens["dashboard"])
        assert after is not None
        assert {key: item["content_hash"] for key, item in after.items()} == {
            key: item["content_hash"] for key, item in before.items()
        }
    second_log = max((home / "logs").glob("local-stack-*.log"), key=lambda path: path.stat().st_mtime).read_text()
    assert '"message":"summarized"' not in second_log
    assert "session already accepted" not in second_log  # kept data: the samples are not posted again

    with up(home, "--no-samples", "--reset") as third:
        assert "new" in third.line("Tokens") and "empty" in third.line("Data")
        assert _summaries(third.api_url, tokens["dashboard"]).status_code in (401, 403)  # the old token is gone
        fresh = json.loads((home / "local" / "tokens.json").read_text())["dashboard"]
        assert _summaries(third.api_url, fresh).json()["items"] == []


def test_a_taken_port_is_named_with_how_to_choose_another(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "local_stack", "up", "--llm", "scripted", "--no-edge"],
            cwd=ROOT,
            env={**environment(tmp_path), "SSP_LOCAL_PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"port {port}" in result.stderr and "--port" in result.stderr and "SSP_LOCAL_PORT" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_with_no_llm_configured_the_samples_are_summarized_by_the_summaries_written_for_them(tmp_path):
    """The default summarizer (no key): the small demo model cannot write these summaries, so the samples get theirs
    from `<sample>.summary.txt`, recorded under their own model id rather than the demo model's."""
    from local_stack.samples import SAMPLES_DIR

    home = tmp_path / "home"
    with up(home, "--llm", "auto") as run:
        assert "samples: summaries written in advance" in run.line("Summarizer")
        token = json.loads((home / "local" / "tokens.json").read_text())["dashboard"]
        wait_for(lambda: _all_summarized(run.api_url, token), timeout=180, interval=0.5)
        for session_id in SAMPLE_IDS:
            run.read_until(f"summarized {session_id}")
        headers = {"authorization": f"Bearer {token}"}
        for path in SAMPLES_DIR.glob("*.json"):
            session_id = json.loads(path.read_text())["session_id"]
            view = httpx.get(f"{run.api_url}/summaries/{session_id}", headers=headers, timeout=30).json()
            assert view["text"] == path.with_suffix(".summary.txt").read_text().strip()
        models = httpx.get(f"{run.api_url}/registry", params={"kind": "summarizer-model"}, headers=headers, timeout=30)
        assert [entry["content"]["model_id"] for entry in models.json()["items"]] == ["local-reference-summaries"]
    assert run.process.returncode == 0, "".join(run.lines)


def test_a_terminal_reader_that_went_away_stops_the_stack_as_ctrl_c_would_and_the_log_file_goes_on(tmp_path):
    home = tmp_path / "home"
    with up(home, "--no-samples") as run:
        run.process.stdout.close()  # like `up | head -14` once head has its lines
        token = json.loads((home / "local" / "tokens.json").read_text())["ingest-planner"]
        body = {
            "session_id": "s-headless",
            "source": "planner",
            "user_id": "u-1",
            "started_at": "2026-11-24T09:00:00Z",
            "ended_at": "2026-11-24T09:10:00Z",
            "turns": [{"role": "user", "content": "Book the dentist for Friday"}],
        }
        answer = httpx.post(
            f"{run.api_url}/sessions", json=body, headers={"authorization": f"Bearer {token}"}, timeout=30
        )
        assert answer.status_code == 202, answer.text
        assert run.process.wait(timeout=120) == 141  # its next line had no reader: stopped, as a shell tool would
    [log] = (home / "logs").glob("local-stack-*.log")
    text = log.read_text()
    assert '"message":"session accepted"' in text and "received s-headless from planner" in text
    assert "stopping..." in text and "stopped; kept" in text  # the log file got every line after the terminal left
    assert (home / "local" / "state" / "snapshot.json").exists()
