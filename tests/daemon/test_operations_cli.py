"""The daemon's operating commands: status, launchd agent, configuration errors."""

from __future__ import annotations

import json
import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest
from stack_helpers import running_stack

from edge_worker.config import ConfigError, api_token
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


OFFLINE = {  # the queue is asked of a port where nothing listens: status reports what it knows locally
    "SSP_API_URL": "http://127.0.0.1:9",
    "SSP_EDGE_QUEUE_URL": "http://127.0.0.1:9/queue",
    "AWS_REGION": "us-east-1",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_MAX_ATTEMPTS": "1",
}


@pytest.mark.skipif(sys.platform == "darwin", reason="launchd is there")
def test_launchd_install_and_uninstall_are_refused_off_macos(tmp_path):
    for action in ("install", "uninstall"):
        result = _edge("launchd", action, env={"HOME": str(tmp_path)})
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr.startswith("error: launchd is macOS-only") and "`launchd print`" in result.stderr
    assert not (tmp_path / "Library").exists()


def test_the_agent_carries_the_worker_settings_but_never_the_token(tmp_path):
    env = {"HOME": str(tmp_path), "SSP_HOME": str(tmp_path / "state"), "SSP_MODEL": "/models/m", "SSP_BATCH_SIZE": ""}
    result = _edge("launchd", "print", env={**env, "SSP_API_TOKEN": "secret-token"})
    agent = plistlib.loads(result.stdout.encode())
    assert agent["EnvironmentVariables"] == {"SSP_HOME": str(tmp_path / "state"), "SSP_MODEL": "/models/m"}
    assert "secret-token" not in result.stdout


def test_token_store_without_an_os_keychain_says_what_to_set_instead(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "edge_worker", "token-store"],
        input="tok\n",
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "HOME": str(tmp_path)},
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: no OS keychain is available here") and "SSP_API_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_status_names_unreadable_local_files_and_still_reports(tmp_path):
    home = tmp_path / "home"
    (home / "edge").mkdir(parents=True)
    (home / "edge" / "outbox.sqlite3").write_text("junk\n")
    env = {**OFFLINE, "SSP_HOME": str(home), "SSP_EDGE_STATE_DIR": ""}
    for broken, problem in (("{trunc", "Expecting property name"), ("[1, 2]", "a JSON array, not an object")):
        (home / "edge" / "status.json").write_text(broken)
        result = _edge("status", env=env)
        assert result.returncode == 1
        status = json.loads(result.stdout)
        assert status["queue_url"] == OFFLINE["SSP_EDGE_QUEUE_URL"] and "queue_error" in status
        status_problem, outbox_problem = status["unreadable_files"]
        assert status_problem.startswith(f"{home / 'edge' / 'status.json'}: unreadable") and problem in status_problem
        assert outbox_problem.startswith(f"{home / 'edge' / 'outbox.sqlite3'}: not a usable outbox database")
        assert "Traceback" not in result.stderr
    assert (home / "edge" / "outbox.sqlite3").read_text() == "junk\n"


def test_dead_letters_names_an_unusable_outbox(tmp_path):
    (tmp_path / "edge").mkdir()
    (tmp_path / "edge" / "outbox.sqlite3").write_text("junk\n")
    corrupt = _edge("dead-letters", env={**OFFLINE, "SSP_HOME": str(tmp_path), "SSP_EDGE_STATE_DIR": ""})
    assert corrupt.returncode == 1
    assert (
        corrupt.stderr
        == f"error: {tmp_path / 'edge' / 'outbox.sqlite3'}: not a usable outbox database (file is not a database)\n"
    )
    nowhere = _edge("dead-letters", env={**OFFLINE, "SSP_HOME": str(tmp_path), "SSP_EDGE_STATE_DIR": "/proc/nope"})
    assert nowhere.returncode == 1
    assert nowhere.stderr.startswith("error: /proc/nope/outbox.sqlite3: cannot create its folder")


def test_unreadable_settings_and_token_files_are_named(tmp_path):
    env = {**OFFLINE, "SSP_HOME": str(tmp_path)}
    (tmp_path / "edge.json").write_bytes(b"\xff\xfe{}")
    assert _edge("status", env=env).stderr == f"error: {tmp_path / 'edge.json'}: not UTF-8 text\n"
    (tmp_path / "edge.json").unlink()
    (tmp_path / "edge.json").mkdir()
    assert (
        _edge("dead-letters", env=env).stderr
        == f"error: {tmp_path / 'edge.json'}: is a directory, not a settings file\n"
    )
    result = _edge("status", "--config", str(tmp_path), env=env)
    assert result.returncode == 2 and result.stderr == f"error: {tmp_path}: is a directory, not a settings file\n"
    token = tmp_path / "token"
    token.write_bytes(b"\x80\x81binary")
    token.chmod(0o600)
    with pytest.raises(ConfigError, match=f'"token_file" {token} is not UTF-8 text'):
        api_token(environ={}, token_file=token)
