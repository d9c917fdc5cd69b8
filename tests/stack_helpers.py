"""Shared helpers for tests that run the local stack."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx

from functions.stores.tokens import TokenStore
from local_stack.messages_server import ScriptedBackend, start_messages_server
from local_stack.moto_process import STORED_COUNTS_PATH
from local_stack.stack import LocalStack, StackOptions
from schemas.contracts import SummaryRecord

# Function workers fork from one server process per test process that imported these once, instead of each
# importing them again at its cold start (the handler and the project's modules are still imported per worker).
WORKER_LIBRARIES = ["boto3", "botocore.session", "pydantic", "anthropic", "numpy", "jsonschema", "httpx", "jsonpatch"]
multiprocessing.get_context("forkserver").set_forkserver_preload(WORKER_LIBRARIES)

LLM_ENV = {
    "ANTHROPIC_API_KEY": "local-test-key",
    "SUMMARIZER_MODEL_ID": "local-scripted",
    "LLM_MAX_RETRIES": "0",
    "LLM_TIMEOUT_SECONDS": "5",
}


@contextlib.contextmanager
def running_stack(backend: ScriptedBackend | None = None, **options: Any) -> Iterator[LocalStack]:
    """A local stack whose summarizer talks to a scripted Messages API server."""
    backend = backend or ScriptedBackend()
    server = start_messages_server(backend)
    extra_env = {**LLM_ENV, "ANTHROPIC_BASE_URL": server.url, **options.pop("extra_env", {})}
    options.setdefault("worker_start_method", "forkserver")
    stack = LocalStack(StackOptions(extra_env=extra_env, **options))
    try:
        stack.start()
        with stack.aws_environment_applied():
            yield stack
    finally:
        stack.stop()
        server.stop()


def make_token(stack: LocalStack, scopes: list[str], source: str | None = None, name: str = "test") -> str:
    with stack.aws_environment_applied():
        return TokenStore(stack.resolved("TokensTable")).create(name, scopes, source=source)


def api_client(stack: LocalStack, token: str | None) -> httpx.Client:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=stack.api_url, headers=headers, timeout=30)


def session_body(session_id: str, source: str = "planner", text: str = "Book the dentist for Friday") -> dict:
    return {
        "session_id": session_id,
        "source": source,
        "user_id": "user-1",
        "started_at": "2026-11-24T09:00:00Z",
        "ended_at": "2026-11-24T09:10:00Z",
        "turns": [
            {"role": "user", "content": text, "timestamp": "2026-11-24T09:00:05Z"},
            {"role": "assistant", "content": "Noted.", "timestamp": "2026-11-24T09:00:09Z"},
        ],
    }


def wait_for(condition: Callable[[], Any], timeout: float = 60, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


class StackIdle(AssertionError):
    """The stack ran out of work before a condition held."""


def wait_for_stack(
    stack: LocalStack, condition: Callable[[], Any], busy: Callable[[], Any] | None = None, interval: float = 0.2
) -> Any:
    """Poll `condition` while the stack has work in hand; return its value once truthy. Fails as soon as the stack
    is idle (LocalStack.idle) and `busy` (work outside the stack, e.g. an edge worker's) is falsy with the condition
    still unmet: the wait follows the work, however slow a loaded machine makes it, not a clock."""
    while True:
        value = condition()
        if value:
            return value
        if not (busy and busy()) and stack.idle():
            value = condition()  # the last piece of work may have ended between the two checks
            if value:
                return value
            raise StackIdle("the stack has no work left and the condition is still not met")
        time.sleep(interval)


def settle(stack: LocalStack, busy: Callable[[], Any] | None = None) -> None:
    """Wait until the stack is idle and `busy` (work outside it, e.g. an edge worker's) is falsy."""
    while (busy and busy()) or not stack.idle():
        time.sleep(0.1)


def queued(stack: LocalStack, *logical_ids: str) -> int:
    """Messages on these queues of the stack, whether visible, in flight or delayed."""
    with urllib.request.urlopen(f"{stack.moto.url}{STORED_COUNTS_PATH}", timeout=30) as response:
        counts = json.loads(response.read())["queues"]
    return sum(counts[stack.resolved(logical_id).rstrip("/").rsplit("/", 1)[1]] for logical_id in logical_ids)


def queue_messages(stack: LocalStack, logical_id: str) -> int:
    attrs = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.resolved(logical_id),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def stored_sessions(stack: LocalStack) -> list[SummaryRecord]:
    """Every item of the sessions table, read as the contract that describes it (raises if one is not)."""
    table = boto3.resource("dynamodb", endpoint_url=stack.moto.url).Table(stack.resolved("SessionsTable"))
    items, page = [], table.scan()
    items += page["Items"]
    while "LastEvaluatedKey" in page:
        page = table.scan(ExclusiveStartKey=page["LastEvaluatedKey"])
        items += page["Items"]
    return [SummaryRecord.model_validate(item) for item in items]


def dump(value: Any) -> str:
    return json.dumps(value, indent=1, default=str)
