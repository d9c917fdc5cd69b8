"""The local HTTP API reads bodies as API Gateway does (Content-Length or chunked) and words every refusal of
its own as JSON {"message": ...}, never as http.server's HTML page."""

from __future__ import annotations

import base64
import http.client
import json
import socket

import pytest

from local_stack.gateway import MAX_PAYLOAD_BYTES, LocalHttpApi
from local_stack.template import HttpRoute


def _echo(function: str, event: dict) -> dict:
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps({"got": len(raw)})}


@pytest.fixture
def api():
    gateway = LocalHttpApi([HttpRoute("Echo", "POST", "/echo", False)], None, _echo)
    gateway.start()
    yield gateway
    gateway.stop()


def _raw(api: LocalHttpApi, request: bytes) -> tuple[int, dict[str, str], bytes]:
    host, port = api.server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as connection:
        connection.sendall(request)
        response = http.client.HTTPResponse(connection)
        response.begin()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def test_a_chunked_body_is_read_whole(api):
    request = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n"
    assert _raw(api, request)[::2] == (200, b'{"got": 11}')


@pytest.mark.parametrize(
    ("request_bytes", "status", "words"),
    [
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "Request-URI Too Long"),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, "Content-Length 'abc'"),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "Content-Length '-1'"),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "chunk size"),
        (
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % (MAX_PAYLOAD_BYTES + 1),
            413,
            "Too Large",
        ),
        (b"BREW /echo HTTP/1.1\r\nHost: x\r\n\r\n", 501, "Unsupported method"),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhiXX\r\n0\r\n\r\n", 400, "longer"),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, "gzip"),
        (b"GET /echo HTTP/1.1\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n", 431, "Too many headers"),
    ],
)
def test_a_refused_request_is_answered_in_json(api, request_bytes, status, words):
    got, headers, body = _raw(api, request_bytes)
    assert (got, headers["content-type"]) == (status, "application/json")
    assert words in json.loads(body)["message"]
