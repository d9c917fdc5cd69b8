"""The local Messages API server: protocol shape, scripted outcomes, counting, and the real SDK's view of it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anthropic
import pytest

from local_stack.messages_server import (
    ScriptedBackend,
    fail,
    hang,
    overloaded,
    rate_limited,
    reply,
    start_messages_server,
)

REPO = Path(__file__).resolve().parents[2]
HEADERS = {"x-api-key": "any-value", "anthropic-version": "2023-06-01", "content-type": "application/json"}


def body(text: str = "hello", **extra) -> dict:
    return {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": text}], **extra}


def post(url: str, payload, headers: dict | None = None, path: str = "/v1/messages", timeout: float = 10):
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    request = urllib.request.Request(
        url + path, data=data, headers=HEADERS if headers is None else headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


@pytest.fixture
def server():
    handle = start_messages_server(ScriptedBackend())
    yield handle
    handle.stop()


def test_message_reply_has_the_messages_api_shape(server):
    status, message, headers = post(server.url, body("Summarize: Ana calls on Friday."))
    assert status == 200
    assert message["id"].startswith("msg_") and message["type"] == "message" and message["role"] == "assistant"
    assert message["model"] == "claude-haiku-4-5"
    assert message["content"] == [{"type": "text", "text": message["content"][0]["text"]}]
    assert "Ana calls on Friday." in message["content"][0]["text"]
    assert message["stop_reason"] == "end_turn" and message["stop_sequence"] is None
    assert set(message["usage"]) == {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    }
    assert headers["request-id"].startswith("req_")


@pytest.mark.parametrize(
    ("payload", "headers", "path", "status", "error_type", "named"),
    [
        (body(), {"anthropic-version": "2023-06-01"}, "/v1/messages", 401, "authentication_error", "x-api-key"),
        (body(), {"x-api-key": "k"}, "/v1/messages", 400, "invalid_request_error", "anthropic-version"),
        (b"{not json", None, "/v1/messages", 400, "invalid_request_error", "not valid JSON"),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}]},
            None,
            "/v1/messages",
            400,
            "invalid_request_error",
            "max_tokens",
        ),
        (body(max_tokens=0), None, "/v1/messages", 400, "invalid_request_error", "max_tokens"),
        (
            {"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
            None,
            "/v1/messages",
            400,
            "invalid_request_error",
            "model",
        ),
        (body(messages=[]), None, "/v1/messages", 400, "invalid_request_error", "messages"),
        (
            body(messages=[{"role": "system", "content": "x"}]),
            None,
            "/v1/messages",
            400,
            "invalid_request_error",
            "messages.0.role",
        ),
        (body(stream=True), None, "/v1/messages", 400, "invalid_request_error", "stream"),
        (body(), None, "/v1/complete", 404, "not_found_error", "/v1/complete"),
        (
            {"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
            {"content-type": "application/json"},
            "/model/anthropic.claude-haiku-4-5-20251001-v1:0/invoke",
            403,
            "permission_error",
            "Authorization",
        ),
    ],
    ids=[
        "no-key",
        "no-version",
        "bad-json",
        "no-max-tokens",
        "zero-max-tokens",
        "no-model",
        "no-messages",
        "bad-role",
        "stream",
        "unknown-route",
        "bedrock-unsigned",
    ],
)
def test_bad_requests_get_anthropic_error_bodies(server, payload, headers, path, status, error_type, named):
    got_status, error, _ = post(server.url, payload, headers=headers, path=path)
    assert got_status == status
    assert error["type"] == "error" and error["error"]["type"] == error_type
    assert named in error["error"]["message"]
    assert server.backend.calls == 0


def test_count_tokens(server):
    status, counted, _ = post(
        server.url,
        {"model": "m", "messages": [{"role": "user", "content": "x" * 400}]},
        path="/v1/messages/count_tokens",
    )
    assert status == 200 and counted == {"input_tokens": 100}


def test_summary_text_is_deterministic_per_input(server):
    first = post(server.url, body("same input"))[1]["content"][0]["text"]
    again = post(server.url, body("same input"))[1]["content"][0]["text"]
    other = post(server.url, body("different input"))[1]["content"][0]["text"]
    assert first == again != other


def test_queued_outcomes_then_default_success(server):
    server.backend.script([rate_limited(), fail(500, "kaput"), overloaded(), reply("custom text")])
    statuses = [post(server.url, body()) for _ in range(5)]
    assert [status for status, _, _ in statuses] == [429, 500, 529, 200, 200]
    assert statuses[0][1]["error"]["type"] == "rate_limit_error"
    assert statuses[1][1]["error"] == {"type": "api_error", "message": "kaput"}
    assert statuses[2][1]["error"]["type"] == "overloaded_error"
    assert statuses[3][1]["content"][0]["text"] == "custom text"
    assert statuses[4][1]["content"][0]["text"].startswith("Scripted summary ")
    assert server.backend.calls == 5


def test_rules_keyed_by_prompt_text_apply_only_to_matching_calls(server):
    backend = server.backend
    backend.always(fail(500, "poisoned"), when="POISON")
    backend.script([rate_limited()], when="FLAKY")
    results = [post(server.url, body(text))[0] for text in ["a POISON b", "ok", "FLAKY", "FLAKY", "POISON again"]]
    assert results == [500, 200, 429, 200, 500]
    assert backend.calls == 5
    assert backend.calls_matching("POISON") == 2
    assert backend.calls_matching("FLAKY") == 2
    assert backend.calls_matching("ok") == 1


def test_matching_sees_system_prompt_and_content_blocks(server):
    server.backend.always(fail(503, "down"), when="SECRET-SYSTEM")
    payload = body(
        system=[{"type": "text", "text": "SECRET-SYSTEM prompt"}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "block text"}]}],
    )
    assert post(server.url, payload)[0] == 503


def test_counting_and_queues_are_thread_safe(server):
    backend = server.backend
    backend.script([fail(500)] * 7, when="HOT")
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda i: post(server.url, body(f"HOT {i}" if i % 2 else f"cold {i}"))[0], range(40)))
    assert backend.calls == 40
    assert backend.calls_matching("HOT") == 20
    assert statuses.count(500) == 7 and statuses.count(200) == 33


def test_retry_after_header_is_sent_when_scripted(server):
    server.backend.script([fail(429, "slow down", headers={"retry-after": "7"})])
    status, _, headers = post(server.url, body())
    assert status == 429 and headers["retry-after"] == "7"


def test_stop_wakes_a_hanging_call(server):
    server.backend.always(hang(60))
    outcome = {}

    def call():
        try:
            post(server.url, body(), timeout=60)
        except Exception as error:  # the connection is closed without a reply
            outcome["error"] = error

    caller = threading.Thread(target=call)
    caller.start()
    while server.backend.calls == 0:
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    caller.join(timeout=10)
    assert not caller.is_alive()
    assert time.monotonic() - started < 10
    assert "error" in outcome


def test_the_real_sdk_parses_replies_and_errors(server):
    client = anthropic.Anthropic(api_key="local", base_url=server.url, max_retries=0)
    message = client.messages.create(
        model="claude-haiku-4-5", max_tokens=32, messages=[{"role": "user", "content": "hi there"}]
    )
    assert message.content[0].text.startswith("Scripted summary ")
    assert message.usage.input_tokens > 0

    server.backend.script([overloaded("try later"), rate_limited("too many"), fail(401, "bad key")])
    with pytest.raises(anthropic.OverloadedError) as overloaded_error:
        client.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    assert overloaded_error.value.type == "overloaded_error" and overloaded_error.value.api_message == "try later"
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.AuthenticationError) as auth_error:
        client.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    assert auth_error.value.request_id.startswith("req_")
    assert (
        client.messages.count_tokens(model="m", messages=[{"role": "user", "content": "abcd" * 10}]).input_tokens == 10
    )


def test_reset_clears_rules_and_counts(server):
    server.backend.always(fail(500))
    post(server.url, body())
    server.backend.reset()
    assert server.backend.calls == 0 and post(server.url, body())[0] == 200


def test_cli_serves_scripted_replies_without_a_model():
    process = subprocess.Popen(
        [sys.executable, "-m", "local_stack.messages_server", "--port", "0"],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stderr.readline()
        assert "listening on http://127.0.0.1:" in line and "ScriptedBackend" in line
        url = line.split("listening on ")[1].split(" ")[0]
        assert post(url, body("from the cli"))[0] == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_cli_rejects_a_missing_model_folder(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "local_stack.messages_server", "--model", str(tmp_path / "nope")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "nope" in result.stderr and "not found" in result.stderr


def test_a_failing_backend_gives_a_500_error_body_not_a_dropped_connection():
    class Broken(ScriptedBackend):
        def generate(self, body, model):
            raise RuntimeError("weights missing")

    with start_messages_server(Broken()) as broken:
        status, error, _ = post(broken.url, body())
    assert status == 500 and error["error"] == {
        "type": "api_error",
        "message": "backend failed: RuntimeError: weights missing",
    }
