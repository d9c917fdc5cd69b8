"""The token CLI against the local stack: the secret is printed once, stored only as a hash, and revocable."""

from __future__ import annotations

import calendar
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stack_helpers import api_client, running_stack, session_body

from functions.admin.tokens_cli import main
from functions.stores.tokens import hash_token

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack():
    with running_stack(event_sources=False) as running:
        yield running


@pytest.fixture
def cli(stack, capsys, monkeypatch):
    """Run the CLI in this process with TOKENS_TABLE set; returns (exit status, stdout, stderr)."""
    monkeypatch.setenv("TOKENS_TABLE", stack.resolved("TokensTable"))

    def run(*argv: str) -> tuple[int, str, str]:
        with stack.aws_environment_applied():
            status = main(list(argv))
        out, err = capsys.readouterr()
        return status, out, err

    return run


def _run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`python -m functions.admin tokens ARGS` in a process of its own with `env`."""
    command = [sys.executable, "-m", "functions.admin", "tokens", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _table_items(stack) -> list[dict]:
    return stack.client("dynamodb").scan(TableName=stack.resolved("TokensTable"))["Items"]


def test_create_prints_the_token_once_and_it_works(stack):
    env = {**os.environ, **stack.aws_environment()}
    env.pop("TOKENS_TABLE", None)
    table = stack.resolved("TokensTable")
    done = _run_cli(
        env,
        "create",
        "--table",
        table,
        "--name",
        "cli-planner",
        "--scope",
        "ingest",
        "--scope",
        "read",
        "--source",
        "planner",
        "--ttl-days",
        "30",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ssp_"), done.stdout
    token = lines[0]
    assert token not in done.stderr and "cli-planner" in done.stderr and "only once" in done.stderr
    stored = json.dumps(_table_items(stack))
    assert token not in stored and hash_token(token) in stored
    with api_client(stack, token) as client:
        assert client.post("/sessions", json=session_body("cli-1")).status_code == 202
        assert client.get("/summaries").status_code == 200
        assert client.get("/edge/pending").status_code == 403


def test_list_shows_metadata_and_only_a_hash_prefix(stack, cli):
    status, token, _ = cli("tokens", "create", "--name", "cli-lister", "--scope", "edge", "--ttl-days", "2")
    assert status == 0
    token = token.strip()
    status, out, err = cli("tokens", "list")
    assert status == 0 and err == ""
    header, *rows = out.splitlines()
    assert header.split() == ["name", "scopes", "source", "created", "expires", "revoked", "hash"]
    row = next(line for line in rows if line.startswith("cli-lister "))
    assert hash_token(token)[:8] in row and hash_token(token)[:9] not in row
    assert token not in out and hash_token(token) not in out
    status, out, _ = cli("tokens", "list", "--json")
    listed = {r["name"]: r for r in map(json.loads, out.splitlines())}
    entry = listed["cli-lister"]
    assert entry["scopes"] == "edge" and entry["source"] == "-" and entry["revoked"] is False
    assert entry["hash"] == hash_token(token)[:8]
    expires = calendar.timegm(time.strptime(entry["expires"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(expires - (time.time() + 2 * 86400)) < 120


def test_list_into_a_reader_that_went_away_exits_quietly(stack, cli):
    assert cli("tokens", "create", "--name", "cli-piped", "--scope", "read")[0] == 0
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `tokens list | head -1` once head is done: every write fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "functions.admin", "tokens", "list", "--table", stack.resolved("TokensTable")],
            cwd=ROOT,
            env={**os.environ, **stack.aws_environment()},
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141 and "BrokenPipeError" not in done.stderr, done.stderr


def test_revoke_stops_a_token_that_was_never_used(stack, cli):
    status, token, _ = cli("tokens", "create", "--name", "cli-revoked", "--scope", "read")
    assert status == 0
    status, out, err = cli("tokens", "revoke", "--name", "cli-revoked")
    assert status == 0 and out == "" and "revoked 1 token" in err
    with api_client(stack, token.strip()) as client:
        assert client.get("/summaries").status_code == 403
    status, out, _ = cli("tokens", "list", "--json")
    assert {json.loads(line)["name"]: json.loads(line)["revoked"] for line in out.splitlines()}["cli-revoked"] is True


BAD_INPUT = [
    (("tokens", "create", "--name", "x", "--scope", "superuser"), "invalid choice"),
    (("tokens", "create", "--name", "x", "--scope", "ingest"), "--source"),
    (("tokens", "create", "--name", "x", "--scope", "read", "--source", "planner"), "ingest scope"),
    (("tokens", "create", "--name", "x", "--scope", "ingest", "--source", "Planner!"), "subsystem name"),
    (("tokens", "create", "--name", "x", "--scope", "read", "--ttl-days", "0"), "days"),
    (("tokens", "create", "--name", "x", "--scope", "read", "--ttl-days", "soon"), "days"),
    (("tokens", "create", "--name", "bad name/with spaces", "--scope", "read"), "token name"),
    (("tokens", "create", "--scope", "read"), "--name"),
    (("tokens", "revoke", "--name", "nobody-has-this-name"), "no active token"),
    (("tokens", "create", "--name", "x", "--scope", "read", "--table", "no-such-table"), "does not exist"),
    (("tokens", "rotate"), "invalid choice"),
    ((), "required"),
]


@pytest.mark.parametrize("argv,mentions", BAD_INPUT, ids=[" ".join(a) or "nothing" for a, _ in BAD_INPUT])
def test_bad_input_exits_2_with_a_message_on_stderr(stack, cli, argv, mentions):
    before = len(_table_items(stack))
    status, out, err = cli(*argv)
    assert status == 2 and out == ""
    assert err.startswith("error: ") and mentions in err, err
    assert len(_table_items(stack)) == before


def test_a_second_active_token_with_the_same_name_is_refused(stack, cli):
    assert cli("tokens", "create", "--name", "cli-twice", "--scope", "read")[0] == 0
    status, out, err = cli("tokens", "create", "--name", "cli-twice", "--scope", "read")
    assert status == 2 and out == "" and "revoke it first" in err


def test_no_table_anywhere_is_exit_2(cli, monkeypatch):
    monkeypatch.delenv("TOKENS_TABLE")
    status, out, err = cli("tokens", "list")
    assert status == 2 and out == "" and "TOKENS_TABLE" in err


def test_aws_region_alone_names_the_region(stack):
    env = {**os.environ, **stack.aws_environment()}
    env["AWS_REGION"] = env.pop("AWS_DEFAULT_REGION", None) or env["AWS_REGION"]
    done = _run_cli(env, "list", "--table", stack.resolved("TokensTable"))
    assert done.returncode == 0, done.stderr
