"""A local stand-in for Claude: enough of the Anthropic Messages API for the real `anthropic` client.

Routes: POST /v1/messages (non-streaming), POST /v1/messages/count_tokens, the Message Batches
routes (POST /v1/messages/batches, GET /v1/messages/batches[/{id}[/results]]), and Bedrock's
POST /model/<id>/invoke. Replies come from a backend: `ScriptedBackend` (deterministic, with
scripted failures for tests) or `MlxBackend` (a local MLX model). A batch is processed in a
background thread, one request at a time, through the same backend.

    python -m local_stack.messages_server --model PATH --port 8765
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import json
import math
import os
import queue
import re
import signal
import sys
import threading
import traceback
import uuid
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import unquote

from edge_worker.model_thread import Cancelled, ModelThread

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


class RequestError(Exception):
    """A request the server rejects with an Anthropic-style error body."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Outcome:
    """What the server does with one call: reply, fail with an error, or hang first."""

    kind: Literal["reply", "error", "hang", "expire"]
    status: int = 200
    message: str = ""
    text: str | None = None
    seconds: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)


def reply(text: str | None = None) -> Outcome:
    """Succeed; `text` overrides the backend's own summary."""
    return Outcome("reply", text=text)


def fail(status: int, message: str | None = None, headers: Mapping[str, str] | None = None) -> Outcome:
    return Outcome("error", status=status, message=message or f"scripted {status} error", headers=headers or {})


def rate_limited(message: str = "Number of request tokens has exceeded your per-minute rate limit") -> Outcome:
    return fail(429, message)


def overloaded(message: str = "Overloaded") -> Outcome:
    return fail(529, message)


def hang(seconds: float) -> Outcome:
    """Wait `seconds` before replying (longer than the client's timeout, to make it give up)."""
    return Outcome("hang", seconds=seconds)


def expire() -> Outcome:
    """In a batch, the request's result is `expired`; a direct call gets a 504 instead."""
    return Outcome("expire", status=504, message="scripted expiry: the request was not processed in time")


@dataclass(frozen=True)
class Generation:
    text: str
    input_tokens: int
    output_tokens: int
    stop_reason: str = "end_turn"
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0


class Backend(Protocol):
    def decide(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> Outcome: ...

    def generate(self, body: Mapping[str, Any], model: str) -> Generation: ...

    def count_tokens(self, body: Mapping[str, Any]) -> int: ...

    def close(self) -> bool:
        """Stop the work in flight; False if something that cannot be interrupted still runs."""
        ...


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(block.get("text", "") for block in content if isinstance(block, dict))
    return ""


def prompt_text(body: Mapping[str, Any]) -> str:
    """System text plus every message's text, as one string to match scripts against."""
    parts = [_text_of(body.get("system"))]
    parts += [_text_of(message.get("content")) for message in body.get("messages", []) if isinstance(message, dict)]
    return "\n".join(part for part in parts if part)


def _cached_prefix(body: Mapping[str, Any]) -> str:
    """System text up to and including the last block marked with cache_control."""
    system = body.get("system")
    if not isinstance(system, list):
        return ""
    marked = [i for i, block in enumerate(system) if isinstance(block, dict) and block.get("cache_control")]
    if not marked:
        return ""
    return "\n".join(_text_of([block]) for block in system[: marked[-1] + 1])


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


@dataclass
class _Rule:
    when: str | None
    queue: deque[Outcome]
    persistent: Outcome | None


class ScriptedBackend:
    """Deterministic replies plus scripted failures, matched per call or per text in the prompt.

    `script(outcomes, when=...)` queues one outcome per matching call; `always(outcome, when=...)`
    applies to every matching call. Keyed rules win over unkeyed ones, queues over `always`.
    """

    def __init__(self, keep_requests: int = 10_000):
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._calls = 0
        self._calls_by_key: dict[str, int] = {}
        self._seen_prefixes: set[str] = set()
        self.requests: deque[dict[str, Any]] = deque(maxlen=keep_requests)

    def script(self, outcomes: Iterable[Outcome], when: str | None = None) -> ScriptedBackend:
        with self._lock:
            self._rule(when).queue.extend(outcomes)
        return self

    def always(self, outcome: Outcome, when: str | None = None) -> ScriptedBackend:
        with self._lock:
            self._rule(when).persistent = outcome
        return self

    def reset(self) -> None:
        with self._lock:
            self._rules.clear()
            self._calls = 0
            self._calls_by_key.clear()
            self._seen_prefixes.clear()
            self.requests.clear()

    @property
    def calls(self) -> int:
        with self._lock:
            return self._calls

    def calls_matching(self, text: str) -> int:
        """Calls whose prompt contained `text` (exact for scripted keys, else over kept requests)."""
        with self._lock:
            if text in self._calls_by_key:
                return self._calls_by_key[text]
            return sum(1 for request in self.requests if text in request["prompt"])

    def _rule(self, when: str | None) -> _Rule:
        for rule in self._rules:
            if rule.when == when:
                return rule
        rule = _Rule(when, deque(), None)
        self._rules.append(rule)
        if when is not None:
            self._calls_by_key.setdefault(when, 0)
        return rule

    def decide(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> Outcome:
        prompt = prompt_text(body)
        with self._lock:
            self._calls += 1
            self.requests.append({"body": dict(body), "headers": dict(headers), "prompt": prompt})
            for key in self._calls_by_key:
                if key in prompt:
                    self._calls_by_key[key] += 1
            keyed = [rule for rule in self._rules if rule.when is not None and rule.when in prompt]
            unkeyed = [rule for rule in self._rules if rule.when is None]
            for rules in (keyed, unkeyed):
                for rule in rules:
                    if rule.queue:
                        return rule.queue.popleft()
                for rule in rules:
                    if rule.persistent is not None:
                        return rule.persistent
        return reply()

    def generate(self, body: Mapping[str, Any], model: str) -> Generation:
        prompt = prompt_text(body)
        digest = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]
        messages = body.get("messages") or [{}]
        last = _text_of(messages[-1].get("content")) if isinstance(messages[-1], dict) else ""
        excerpt = " ".join(last.split())[-160:]
        text = (
            f"Scripted summary {digest}. The request held {len(messages)} message(s) and "
            f"{len(prompt)} characters. It ends with: {excerpt}"
        )
        prefix = _cached_prefix(body)
        with self._lock:
            cache_hit = bool(prefix) and prefix in self._seen_prefixes
            if prefix:
                self._seen_prefixes.add(prefix)
        prefix_tokens = estimate_tokens(prefix)
        return Generation(
            text=text,
            input_tokens=max(estimate_tokens(prompt) - prefix_tokens, 1),
            output_tokens=estimate_tokens(text),
            cache_creation_input_tokens=0 if cache_hit else prefix_tokens,
            cache_read_input_tokens=prefix_tokens if cache_hit else 0,
        )

    def count_tokens(self, body: Mapping[str, Any]) -> int:
        return estimate_tokens(prompt_text(body))

    def close(self) -> bool:
        return True


class MlxBackend:
    """Replies from a local MLX model (greedy, bounded length), one generation at a time.

    Like the real API's prompt caching, a system prompt marked with cache_control is prefilled
    once; later calls start from a copy of its KV cache and report it as cache_read_input_tokens.
    """

    def __init__(self, model_path: str, max_tokens: int = 512, cached_prefixes: int = 4):
        from mlx_lm import load

        if not Path(model_path).is_dir():
            raise FileNotFoundError(f"model folder not found: {model_path}")
        self.model_path = model_path
        self.max_tokens = max_tokens
        self._model, self._tokenizer = load(model_path)
        self._model_thread = ModelThread("messages-model")  # request threads come and go; MLX work stays on one
        self._closing = threading.Event()
        self._prefix_caches: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self._cached_prefixes = cached_prefixes

    def decide(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> Outcome:
        return reply()

    def _chat(self, body: Mapping[str, Any]) -> list[dict[str, str]]:
        chat = []
        system = _text_of(body.get("system"))
        if system:
            chat.append({"role": "system", "content": system})
        for message in body.get("messages", []):
            chat.append({"role": message.get("role", "user"), "content": _text_of(message.get("content"))})
        return chat

    def _tokens(self, chat: list[dict[str, str]], add_generation_prompt: bool) -> list[int]:
        tokens = self._tokenizer.apply_chat_template(chat, add_generation_prompt=add_generation_prompt, tokenize=True)
        return list(tokens["input_ids"] if isinstance(tokens, Mapping) else tokens)

    def _cacheable_prefix(self, body: Mapping[str, Any], prompt: list[int]) -> list[int]:
        """Tokens of the system turn when it is marked for caching and is a strict prefix of the prompt."""
        if not _cached_prefix(body):
            return []
        prefix = self._tokens(self._chat(body)[:1], add_generation_prompt=False)
        return prefix if len(prefix) < len(prompt) and prompt[: len(prefix)] == prefix else []

    def _prefix_cache(self, prefix: list[int]) -> tuple[Any, bool]:
        """A private copy of the KV cache after `prefix`, and whether it was already cached."""
        import mlx.core as mx
        from mlx_lm.models.cache import make_prompt_cache

        key = tuple(prefix)
        hit = key in self._prefix_caches
        if hit:
            self._prefix_caches.move_to_end(key)
        else:
            cache = make_prompt_cache(self._model)
            for start in range(0, len(prefix), 512):
                self._model(mx.array(prefix[start : start + 512])[None], cache=cache)
                mx.eval([entry.state for entry in cache])
            self._prefix_caches[key] = cache
            while len(self._prefix_caches) > self._cached_prefixes:
                self._prefix_caches.popitem(last=False)
        return copy.deepcopy(self._prefix_caches[key]), hit

    def _generate(self, body: Mapping[str, Any]) -> Generation:
        from mlx_lm import stream_generate

        if self._closing.is_set():
            raise Cancelled("the server is stopping")
        limit = min(int(body.get("max_tokens", self.max_tokens)), self.max_tokens)
        prompt = self._tokens(self._chat(body), add_generation_prompt=True)
        prefix = self._cacheable_prefix(body, prompt)
        options: dict[str, Any] = {}
        hit = False
        if prefix:
            options["prompt_cache"], hit = self._prefix_cache(prefix)
        pieces, finish, generated = [], None, 0
        stream = stream_generate(self._model, self._tokenizer, prompt[len(prefix) :], max_tokens=limit, **options)
        with contextlib.closing(stream):  # its MLX stream context must end on this thread
            for response in stream:
                if self._closing.is_set():
                    raise Cancelled("the server is stopping")
                pieces.append(response.text)
                generated = response.generation_tokens
                finish = response.finish_reason
        return Generation(
            text="".join(pieces),
            input_tokens=len(prompt) - len(prefix),
            output_tokens=generated,
            stop_reason="max_tokens" if finish == "length" else "end_turn",
            cache_creation_input_tokens=0 if hit else len(prefix),
            cache_read_input_tokens=len(prefix) if hit else 0,
        )

    def generate(self, body: Mapping[str, Any], model: str) -> Generation:
        return self._model_thread.call(self._generate, body)

    def count_tokens(self, body: Mapping[str, Any]) -> int:
        return self._model_thread.call(lambda: len(self._tokens(self._chat(body), add_generation_prompt=True)))

    def close(self) -> bool:
        self._closing.set()
        return self._model_thread.close(timeout=5)


def message_body(model: str, generation: Generation, outcome: Outcome) -> dict[str, Any]:
    """A Messages API reply; a scripted `reply(text)` replaces the generated text."""
    text = outcome.text if outcome.text is not None else generation.text
    return {
        "id": f"msg_local_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": generation.stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": generation.input_tokens,
            "output_tokens": generation.output_tokens if outcome.text is None else estimate_tokens(text),
            "cache_creation_input_tokens": generation.cache_creation_input_tokens,
            "cache_read_input_tokens": generation.cache_read_input_tokens,
        },
    }


def _rfc3339(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


@dataclass
class _Batch:
    id: str
    requests: list[dict[str, Any]]
    headers: dict[str, str]
    created_at: datetime
    ended_at: datetime | None = None
    results: list[dict[str, Any]] = field(default_factory=list)

    def view(self, base_url: str) -> dict[str, Any]:
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if self.ended_at is None:  # like the API: requests count as processing until the whole batch ends
            counts["processing"] = len(self.requests)
        else:
            for result in self.results:
                counts[result["result"]["type"]] += 1
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": "ended" if self.ended_at else "in_progress",
            "request_counts": counts,
            "created_at": _rfc3339(self.created_at),
            "expires_at": _rfc3339(self.created_at + timedelta(hours=24)),
            "ended_at": _rfc3339(self.ended_at),
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{base_url}/v1/messages/batches/{self.id}/results" if self.ended_at else None,
        }


class BatchRunner:
    """Holds the server's Message Batches and processes them in one background thread, in order."""

    def __init__(self, backend: Backend, stopping: threading.Event):
        self.backend = backend
        self._stopping = stopping
        self._lock = threading.Lock()
        self._batches: dict[str, _Batch] = {}
        self._queue: queue.Queue[_Batch | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="messages-batches", daemon=True)
        self._thread.start()

    def create(self, requests: list[dict[str, Any]], headers: dict[str, str]) -> _Batch:
        batch = _Batch(f"msgbatch_local_{uuid.uuid4().hex[:24]}", requests, headers, datetime.now(UTC))
        with self._lock:
            self._batches[batch.id] = batch
        self._queue.put(batch)
        return batch

    def get(self, batch_id: str) -> _Batch:
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None:
            raise RequestError(404, f"no message batch with id {batch_id!r}")
        return batch

    def all(self) -> list[_Batch]:
        with self._lock:
            return sorted(self._batches.values(), key=lambda batch: batch.created_at, reverse=True)

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _work(self) -> None:
        while (batch := self._queue.get()) is not None:
            results = []
            for request in batch.requests:
                results.append(
                    {"custom_id": request["custom_id"], "result": self._run(request["params"], batch.headers)}
                )
            with self._lock:
                batch.results, batch.ended_at = results, datetime.now(UTC)

    def _run(self, params: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        try:
            outcome = self.backend.decide(params, headers)
            if outcome.kind == "hang" and self._stopping.wait(outcome.seconds):
                return {"type": "canceled"}
            if outcome.kind == "expire":
                return {"type": "expired"}
            if outcome.kind == "error":
                return _errored(outcome.status, outcome.message)
            return {
                "type": "succeeded",
                "message": message_body(params["model"], self.backend.generate(params, params["model"]), outcome),
            }
        except Cancelled:
            return {"type": "canceled"}
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            return _errored(500, f"backend failed: {type(error).__name__}: {error}")


def _errored(status: int, message: str) -> dict[str, Any]:
    return {
        "type": "errored",
        "error": {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message}},
    }


_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_BATCH_REQUESTS = 100_000


def _check_batch_body(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        raise RequestError(400, "request body must be a JSON object")
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise RequestError(400, "requests: field required (a non-empty list)")
    if len(requests) > MAX_BATCH_REQUESTS:
        raise RequestError(400, f"requests: at most {MAX_BATCH_REQUESTS} requests per batch, got {len(requests)}")
    seen: set[str] = set()
    for index, request in enumerate(requests):
        if not isinstance(request, dict):
            raise RequestError(400, f"requests.{index}: must be an object with custom_id and params")
        custom_id = request.get("custom_id")
        if not isinstance(custom_id, str) or not _CUSTOM_ID.match(custom_id):
            raise RequestError(400, f"requests.{index}.custom_id: must match {_CUSTOM_ID.pattern}")
        if custom_id in seen:
            raise RequestError(
                400, f"requests.{index}.custom_id: {custom_id!r} is used by another request in this batch"
            )
        seen.add(custom_id)
        try:
            _check_messages_body(request.get("params"), needs_model=True)
        except RequestError as error:
            raise RequestError(400, f"requests.{index}.params: {error.message}") from None
    return requests


_BEDROCK_INVOKE = re.compile(r"^/model/(?P<model>[^/]+)/invoke$")
_BATCH = re.compile(r"^/v1/messages/batches/(?P<id>[A-Za-z0-9_-]+)(?P<results>/results)?$")


def _check_messages_body(body: Any, needs_model: bool, count_only: bool = False) -> None:
    if not isinstance(body, dict):
        raise RequestError(400, "request body must be a JSON object")
    if needs_model and not (isinstance(body.get("model"), str) and body["model"]):
        raise RequestError(400, "model: field required (a non-empty string)")
    if not count_only:
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise RequestError(400, "max_tokens: field required (an integer >= 1)")
        if body.get("stream"):
            raise RequestError(400, "stream: streaming is not supported by this local server")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "messages: field required (a non-empty list)")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise RequestError(400, f"messages.{index}.role: must be 'user' or 'assistant'")
        if not isinstance(message.get("content"), (str, list)):
            raise RequestError(400, f"messages.{index}.content: must be a string or a list of content blocks")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # keep-alive answers in two writes: no 40 ms delayed-ACK wait
    server: _MessagesHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            sys.stderr.write(f"messages-server: {format % args}\n")

    def do_GET(self) -> None:
        try:
            self._drain()
            path = self.path.split("?", 1)[0]
            runner = self.server.batches
            if path == "/v1/messages/batches":
                self._require_api_key()
                views = [batch.view(self._base_url) for batch in runner.all()]
                self._send_json(
                    200,
                    {
                        "data": views,
                        "has_more": False,
                        "first_id": views[0]["id"] if views else None,
                        "last_id": views[-1]["id"] if views else None,
                    },
                )
            elif match := _BATCH.match(path):
                self._require_api_key()
                batch = runner.get(match["id"])
                if not match["results"]:
                    self._send_json(200, batch.view(self._base_url))
                elif batch.ended_at is None:
                    raise RequestError(
                        400, f"message batch {batch.id} is still in_progress; results are available once it has ended"
                    )
                else:
                    lines = "".join(json.dumps(result) + "\n" for result in batch.results)
                    self._send_bytes(200, lines.encode("utf-8"), "application/binary")
            else:
                raise RequestError(
                    405 if path.startswith(("/v1/messages", "/model/")) else 404,
                    f"{self.command} {self.path} is not supported",
                )
        except RequestError as error:
            self._send_error(error)
        except (BrokenPipeError, ConnectionResetError):
            pass

    @property
    def _base_url(self) -> str:
        host = self.headers.get("host") or "{}:{}".format(*self.server.server_address[:2])
        return f"http://{host}"

    def do_POST(self) -> None:
        try:
            body = self._read_json()
            path = self.path.split("?", 1)[0]
            if path == "/v1/messages":
                self._require_api_key()
                _check_messages_body(body, needs_model=True)
                self._messages(body, body["model"])
            elif path == "/v1/messages/batches":
                self._require_api_key()
                requests = _check_batch_body(body)
                headers = {name.lower(): value for name, value in self.headers.items()}
                self._send_json(200, self.server.batches.create(requests, headers).view(self._base_url))
            elif path == "/v1/messages/count_tokens":
                self._require_api_key()
                _check_messages_body(body, needs_model=True, count_only=True)
                self._send_json(200, {"input_tokens": self.server.backend.count_tokens(body)})
            elif match := _BEDROCK_INVOKE.match(path):
                if not self.headers.get("authorization"):
                    raise RequestError(403, "Authorization header (SigV4 or bearer token) is required")
                _check_messages_body(body, needs_model=False)
                if not body.get("anthropic_version"):
                    raise RequestError(400, "anthropic_version: field required in the body for Bedrock")
                self._messages(body, unquote(match["model"]))
            else:
                raise RequestError(404, f"no route for POST {path}")
        except RequestError as error:
            self._send_error(error)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Cancelled as error:
            self._send_error(RequestError(529, str(error)))  # the SDK retries this elsewhere
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            self._send_error(RequestError(500, f"backend failed: {type(error).__name__}: {error}"))

    def _drain(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _read_json(self) -> Any:
        raw = self._drain()
        try:
            return json.loads(raw or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise RequestError(400, f"request body is not valid JSON: {error}") from None

    def _require_api_key(self) -> None:
        if not (self.headers.get("x-api-key") or self.headers.get("authorization")):
            raise RequestError(
                401, "authentication required: send an x-api-key header (any value) or Authorization: Bearer"
            )
        if not self.headers.get("anthropic-version"):
            raise RequestError(400, "anthropic-version header is required")

    def _messages(self, body: dict[str, Any], model: str) -> None:
        backend = self.server.backend
        outcome = backend.decide(body, {name.lower(): value for name, value in self.headers.items()})
        if outcome.kind == "hang" and self.server.stopping.wait(outcome.seconds):
            self.close_connection = True
            return
        if outcome.kind in ("error", "expire"):
            self._send_error(RequestError(outcome.status, outcome.message), outcome.headers)
            return
        self._send_json(200, message_body(model, backend.generate(body, model), outcome))

    def _send_error(self, error: RequestError, headers: Mapping[str, str] | None = None) -> None:
        body = {
            "type": "error",
            "error": {"type": ERROR_TYPES.get(error.status, "api_error"), "message": error.message},
            "request_id": self._request_id,
        }
        self._send_json(error.status, body, headers)

    def _send_json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(body).encode("utf-8"), "application/json", headers)

    def _send_bytes(
        self, status: int, payload: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.close_connection = True
        try:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(payload)))
            self.send_header("request-id", self._request_id)
            self.send_header("connection", "close")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    @property
    def _request_id(self) -> str:
        if not hasattr(self, "_rid"):
            self._rid = f"req_local_{uuid.uuid4().hex[:20]}"
        return self._rid


class _MessagesHTTPServer(ThreadingHTTPServer):
    # Handler threads are joined by server_close(): a thread left blocked on a kept-alive
    # socket at interpreter exit aborts the process once MLX is loaded.
    daemon_threads = True  # stop() does not wait for a generation in flight
    block_on_close = False

    def __init__(self, address: tuple[str, int], backend: Backend, verbose: bool = False):
        super().__init__(address, _Handler)
        self.backend = backend
        self.verbose = verbose
        self.stopping = threading.Event()
        self.batches = BatchRunner(backend, self.stopping)


@dataclass
class MessagesServer:
    """A running server; `stop()` wakes hanging calls and closes the socket."""

    backend: Backend
    host: str
    port: int
    _httpd: _MessagesHTTPServer
    _thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> bool:
        """False when the model is still in a forward pass that cannot be interrupted: exit without waiting."""
        self._httpd.stopping.set()
        idle = self.backend.close()  # first: a generation in flight ends at its next token
        self._httpd.batches.stop()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        return idle

    def __enter__(self) -> MessagesServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_messages_server(
    backend: Backend, host: str = "127.0.0.1", port: int = 0, verbose: bool = False
) -> MessagesServer:
    httpd = _MessagesHTTPServer((host, port), backend, verbose=verbose)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="messages-server", daemon=True
    )
    thread.start()
    return MessagesServer(backend=backend, host=host, port=httpd.server_address[1], _httpd=httpd, _thread=thread)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack.messages_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="MLX model folder (mlx_lm.load); without it, scripted deterministic replies")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--max-tokens", type=int, default=512, help="cap on generated tokens per reply")
    args = parser.parse_args(argv)

    if args.model:
        print(f"loading MLX model from {args.model}", file=sys.stderr)
        try:
            backend: Backend = MlxBackend(args.model, max_tokens=args.max_tokens)
        except (OSError, ValueError) as error:
            print(f"error: cannot load model from {args.model}: {error}", file=sys.stderr)
            return 2
    else:
        backend = ScriptedBackend(keep_requests=100)
    try:
        server = start_messages_server(backend, host=args.host, port=args.port, verbose=True)
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    print(f"messages server listening on {server.url} ({type(backend).__name__}); Ctrl-C stops", file=sys.stderr)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    if not server.stop():
        sys.stderr.flush()
        os._exit(0)  # MLX must not be torn down under a forward pass that is still running
    return 0


if __name__ == "__main__":
    sys.exit(main())
