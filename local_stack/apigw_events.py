"""Build API Gateway HTTP API (payload 2.0) events and read handler responses, as API Gateway does."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qsl

API_ID = "localapi"
TEXT_TYPES = (
    "text/",
    "application/json",
    "+json",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
)


def _is_text(content_type: str) -> bool:
    content_type = content_type.lower()
    return any(marker in content_type for marker in TEXT_TYPES)


def _joined_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


def _query(raw_query: str) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        params[key] = f"{params[key]},{value}" if key in params else value
    return params or None


def _request_context(method: str, path: str, route_key: str, headers: dict[str, str], source_ip: str) -> dict:
    now = datetime.now(UTC)
    return {
        "accountId": "123456789012",
        "apiId": API_ID,
        "domainName": headers.get("host", "localhost"),
        "domainPrefix": API_ID,
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(time.time() * 1000),
    }


def http_event(
    *,
    method: str,
    path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    route_key: str,
    path_parameters: dict[str, str],
    source_ip: str,
    authorizer_context: dict | None,
) -> dict:
    joined = _joined_headers(headers)
    cookies = [c.strip() for c in joined.pop("cookie", "").split(";") if c.strip()]
    is_text = _is_text(joined.get("content-type", "")) or not body
    if is_text:
        try:
            body_text, encoded = body.decode("utf-8"), False
        except UnicodeDecodeError:
            body_text, encoded = base64.b64encode(body).decode(), True
    else:
        body_text, encoded = base64.b64encode(body).decode(), True
    event = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": joined,
        "requestContext": _request_context(method, path, route_key, joined, source_ip),
        "isBase64Encoded": encoded,
    }
    if cookies:
        event["cookies"] = cookies
    if query := _query(raw_query):
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        event["body"] = body_text
    if authorizer_context is not None:
        event["requestContext"]["authorizer"] = {"lambda": authorizer_context}
    return event


def authorizer_event(request_event: dict, identity: list[str]) -> dict:
    """The REQUEST authorizer event (payload 2.0) for the same request."""
    context = request_event["requestContext"]
    method, path = context["http"]["method"], context["http"]["path"]
    event = {key: value for key, value in request_event.items() if key not in ("body", "isBase64Encoded")}
    event.update(
        {
            "type": "REQUEST",
            "identitySource": identity,
            "routeArn": f"arn:aws:execute-api:us-east-1:123456789012:{API_ID}/$default/{method}{path}",
        }
    )
    return event


def http_response(result) -> tuple[int, list[tuple[str, str]], bytes]:
    """Map a handler's return value to status, headers and body (payload 2.0 rules)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        body = json.dumps(result).encode() if not isinstance(result, str) else result.encode()
        return 200, [("content-type", "application/json")], body
    headers = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(v)) for v in values)
    headers.extend(("set-cookie", c) for c in result.get("cookies") or [])
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    return int(result["statusCode"]), headers, raw
