"""The daemon's operating commands: status, launchd agent, configuration errors."""

from __future__ import annotations

import json
import os
import plistlib
import subprocess
import sys
from pathlib import Path

from stack_helpers import running_stack

from edge_worker.outbox import Outbox

ROOT = Path(__file__).resolve().parents[2]


def _edge(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edge_worker", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_launchd_agent_runs_the_daemon_and_restarts_it(tmp_path):
    result = _edge("launchd", "print", env={"HOME": str(tmp_path)})
    agent = plistlib.loads(result.stdout.encode())
    assert agent["ProgramArguments"][-3:] == ["-m", "edge_worker", "run"]
    assert agent["RunAtLoad"] is True and agent["KeepAlive"] == {"SuccessfulExit": False}


def test_status_reports_queue_outbox_and_last_state(tmp_path):
    home = tmp_path / "home"
    (home / "edge").mkdir(parents=True)
    (home / "edge" / "status.json").write_text(json.dumps({"model": "tiny", "last_error": "HTTP 503"}))
    outbox = Outbox(home / "edge" / "outbox.sqlite3")
    outbox.add("PUT", "/edge/systems/broken", {"name": "broken"})
    outbox.set_aside(outbox.oldest(), "HTTP 500: Internal Server Error (8 tries)")
    outbox.add("PUT", "/edge/summaries/s/systems/planner", {"document": {}})
    outbox.close()
    with running_stack(serve_http=False, event_sources=False) as stack:
        sqs = stack.client("sqs")
        sqs.send_message(
            QueueUrl=stack.resolved("EdgeQueue"), MessageBody="{}", MessageGroupId="g", MessageDeduplicationId="d"
        )
        env = {
            **stack.aws_environment(),
            "SSP_HOME": str(home),
            "SSP_API_URL": "http://127.0.0.1:9",
            "SSP_EDGE_QUEUE_URL": stack.resolved("EdgeQueue"),
            "SSP_EDGE_STATE_DIR": str(home / "edge"),
        }
        status = json.loads(_edge("status", env=env).stdout)
        listed = json.loads(_edge("dead-letters", env=env).stdout)
        requeued = _edge("dead-letters", "--requeue", env=env)
        after = json.loads(_edge("status", env=env).stdout)
    assert status["queue_waiting"] == 1 and status["outbox"] == 1
    assert status["model"] == "tiny" and status["last_error"] == "HTTP 503"
    assert status["dead_letters"] == 1 and status["oldest_dead_letters"][0]["path"] == "/edge/systems/broken"
    assert "8 tries" in status["oldest_dead_letters"][0]["reason"]
    assert [letter["body"] for letter in listed] == [{"name": "broken"}]
    assert requeued.returncode == 0 and "1 dead letter(s) queued again" in requeued.stdout
    assert (after["dead_letters"], after["outbox"]) == (0, 2)


def test_missing_configuration_is_named(tmp_path):
    result = _edge("status", env={"SSP_HOME": str(tmp_path), "SSP_API_URL": "", "SSP_EDGE_QUEUE_URL": ""})
    assert result.returncode == 2
    assert "SSP_API_URL is not set" in result.stderr and "SSP_EDGE_QUEUE_URL is not set" in result.stderr
