"""A local HTTP API: the template's HttpApi routes, its Lambda authorizer, then the route's function."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import BinaryIO
from urllib.parse import urlsplit

from local_stack.apigw_events import authorizer_event, http_event, http_response
from local_stack.runtime import FunctionError
from local_stack.template import HttpRoute

log = logging.getLogger("local_stack.gateway")
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # HTTP API's own request limit

Invoke = Callable[[str, dict], object]


class AuthorizerCache:
    """Caches allow/deny per identity for `ReauthorizeEvery` seconds, as API Gateway does."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._entries: dict[str, tuple[float, bool, dict]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[bool, dict] | None:
        with self._lock:
            entry = self._entries.get(key)
        if entry and entry[0] > time.monotonic():
            return entry[1], entry[2]
        return None

    def put(self, key: str, allowed: bool, context: dict) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + self.ttl, allowed, context)


class LocalHttpApi:
    def __init__(
        self,
        routes: list[HttpRoute],
        authorizer: str | None,
        invoke: Invoke,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        authorizer_ttl: float = 300.0,
    ) -> None:
        self.routes, self.authorizer, self.invoke = routes, authorizer, invoke
        self.cache = AuthorizerCache(authorizer_ttl)
        self.server = ThreadingHTTPServer((host, port), self._handler_class())
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, name="http-api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def route_for(self, method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None

    def authorize(self, event: dict) -> tuple[int, dict | None]:
        """Status 0 and the authorizer context when allowed, else 401/403 as API Gateway answers."""
        identity = event["headers"].get("authorization")
        if not identity:
            return 401, None
        cached = self.cache.get(identity)
        if cached is None:
            try:
                result = self.invoke(self.authorizer, authorizer_event(event, [identity]))
            except FunctionError:
                return 500, None
            cached = (bool(result.get("isAuthorized")), result.get("context") or {})
            self.cache.put(identity, *cached)
        allowed, context = cached
        return (0, context) if allowed else (403, None)

    def handle(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        parts = urlsplit(target)
        found = self.route_for(method, parts.path)
        if found is None:
            return _message(404, "Not Found")
        route, params = found
        event = http_event(
            method=method,
            path=parts.path,
            raw_query=parts.query,
            headers=headers,
            body=body,
            route_key=route.route_key,
            path_parameters=params,
            source_ip=source_ip,
            authorizer_context=None,
        )
        if route.authorized:
            status, context = self.authorize(event)
            if status == 401:
                return _message(401, "Unauthorized")
            if status == 403:
                return _message(403, "Forbidden")
            if status:
                return _message(500, "Internal Server Error")
            event["requestContext"]["authorizer"] = {"lambda": context}
        try:
            return http_response(self.invoke(route.function, event))
        except FunctionError as error:
            log.error("%s %s: %s\n%s", method, parts.path, error, "".join(error.error.get("stackTrace", [])))
            return _message(500, "Internal Server Error")

    def _handler_class(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK wait

            def _serve(self) -> None:
                try:
                    raw = _request_body(self.headers, self.rfile)
                except _BodyRefused as refused:
                    self.close_connection = True
                    status, headers, body = _message(refused.status, refused.message)
                else:
                    try:
                        status, headers, body = api.handle(
                            self.command, self.path, list(self.headers.items()), raw, self.client_address[0]
                        )
                    except Exception:  # the gateway answers even when the local runtime itself fails
                        log.exception("%s %s failed in the local gateway", self.command, self.path)
                        status, headers, body = _message(500, "Internal Server Error")
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    try:
                        self.wfile.write(body)
                    except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting; nothing to tell
                        log.debug("%s %s: client closed the connection before the answer", self.command, self.path)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                """http.server's own refusals (a request line over 64 KiB, headers too large, a malformed request
                line, an unknown method) as API Gateway words its own: JSON {"message": ...}, not HTML."""
                status, headers, body = _message(code, message or HTTPStatus(code).phrase)
                self.close_connection = True
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def log_message(self, format: str, *args) -> None:
                pass

        return Handler


class _BodyRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _request_body(headers: Message, stream: BinaryIO) -> bytes:
    """The request's body, by Content-Length or chunked Transfer-Encoding (RFC 9112 §7.1), at most
    MAX_PAYLOAD_BYTES. Raises _BodyRefused: 400 for a malformed length or chunk, 413 for a body over the limit, 501
    for a transfer coding other than chunked."""
    codings = [c.strip().lower() for c in (headers.get("transfer-encoding") or "").split(",") if c.strip()]
    if codings and codings != ["chunked"]:
        raise _BodyRefused(501, f"Not Implemented: Transfer-Encoding {', '.join(codings)[:60]}")
    if codings:
        body = bytearray()
        while True:
            size_line = stream.readline(1024).split(b";", 1)[0].strip()
            if not re.fullmatch(rb"[0-9A-Fa-f]{1,8}", size_line):
                raise _BodyRefused(400, "Bad Request: malformed chunk size")
            size = int(size_line, 16)
            if len(body) + size > MAX_PAYLOAD_BYTES:
                raise _BodyRefused(413, "Request Entity Too Large")
            if size == 0:
                while stream.readline(8192).strip():  # trailer fields, then the blank line
                    pass
                return bytes(body)
            body += stream.read(size)
            if stream.readline(8) not in (b"\r\n", b"\n"):  # a chunk is its size's bytes, then CRLF
                raise _BodyRefused(400, "Bad Request: a chunk is longer than its size")
    length_text = (headers.get("content-length") or "0").strip()
    if not length_text.isascii() or not length_text.isdigit():
        raise _BodyRefused(400, f"Bad Request: Content-Length {length_text[:40]!r} is not a number of bytes")
    length = int(length_text)
    if length > MAX_PAYLOAD_BYTES:
        raise _BodyRefused(413, "Request Entity Too Large")
    return stream.read(length) if length else b""


def _message(status: int, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    return status, [("content-type", "application/json")], json.dumps({"message": message}).encode()
