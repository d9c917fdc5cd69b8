"""The HTTP server: the Messages API routes (and Bedrock's invoke route) in front of a Backend.

Routes: POST /v1/messages (non-streaming), POST /v1/messages/count_tokens, the Message Batches
routes (POST /v1/messages/batches, GET /v1/messages/batches[/{id}[/results]]), and Bedrock's
POST /model/<id>/invoke.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from edge_worker.model_thread import Cancelled
from local_stack.messages_server.backend import Backend
from local_stack.messages_server.batches import BatchRunner
from local_stack.messages_server.protocol import (
    RequestError,
    check_batch_body,
    check_messages_body,
    error_object,
    message_body,
)

_BEDROCK_INVOKE = re.compile(r"^/model/(?P<model>[^/]+)/invoke$")
_BATCH = re.compile(r"^/v1/messages/batches/(?P<id>[A-Za-z0-9_-]+)(?P<results>/results)?$")


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
                check_messages_body(body, needs_model=True)
                self._messages(body, body["model"])
            elif path == "/v1/messages/batches":
                self._require_api_key()
                requests = check_batch_body(body)
                headers = {name.lower(): value for name, value in self.headers.items()}
                self._send_json(200, self.server.batches.create(requests, headers).view(self._base_url))
            elif path == "/v1/messages/count_tokens":
                self._require_api_key()
                check_messages_body(body, needs_model=True, count_only=True)
                self._send_json(200, {"input_tokens": self.server.backend.count_tokens(body)})
            elif match := _BEDROCK_INVOKE.match(path):
                if not self.headers.get("authorization"):
                    raise RequestError(403, "Authorization header (SigV4 or bearer token) is required")
                check_messages_body(body, needs_model=False)
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
        self._send_json(200, message_body(model, backend.generate(body, model), outcome.text, outcome.stop_reason))

    def _send_error(self, error: RequestError, headers: Mapping[str, str] | None = None) -> None:
        body = {"type": "error", "error": error_object(error.status, error.message), "request_id": self._request_id}
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
