"""Turn an API Gateway request body into a validated contract, or a ClientError naming the problem."""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from functions.errors import ClientError
from schemas.json_text import InvalidJson, json_type, strict_loads

Model = TypeVar("Model", bound=BaseModel)
MAX_BODY_BYTES = 2 * 1024 * 1024  # the API's bodies (sessions have their own, configurable limit)
MAX_JSON_DEPTH = 64  # far beyond any contract; deeper bodies break serializers and DynamoDB (32 levels)
JSON = "application/json"
JSON_PATCH = "application/json-patch+json"  # RFC 6902's media type


def raw_body(event: dict[str, Any], max_bytes: int) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ClientError("invalid_encoding", f"body is not valid base64: {exc}") from exc
    else:
        data = body.encode("utf-8")
    if len(data) > max_bytes:
        raise ClientError("payload_too_large", f"body is {len(data)} bytes; the limit is {max_bytes}", status=413)
    return data


def require_json_content_type(event: dict[str, Any], media_type: str = JSON) -> None:
    """415 unless the body is `media_type`, sent as it is (no Content-Encoding such as gzip)."""
    encoding = (event.get("headers") or {}).get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        raise ClientError(
            "unsupported_media_type",
            f"content-encoding {encoding[:40]!r} is not taken; send the body uncompressed",
            status=415,
        )
    content_type = (event.get("headers") or {}).get("content-type", "")
    sent = content_type.split(";", 1)[0].strip().lower()
    if sent != media_type:
        shown = content_type or "none"
        raise ClientError("unsupported_media_type", f"content-type must be {media_type}, got {shown}", status=415)


def _check_depth(data: Any) -> None:
    """Reject nesting deeper than MAX_JSON_DEPTH."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if not isinstance(value, (dict, list)):
            continue
        if depth > MAX_JSON_DEPTH:
            raise ClientError("invalid_json", f"JSON is nested too deeply (more than {MAX_JSON_DEPTH} levels)")
        stack.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))


def parse_json(data: bytes) -> Any:
    """A request body's JSON (strict_json); ClientError invalid_encoding, empty_body or invalid_json."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClientError("invalid_encoding", f"body is not valid UTF-8 (byte {exc.start})") from exc
    if not text.strip():
        raise ClientError("empty_body", "the request body is empty; send a JSON object")
    return strict_json(text, "body")


def strict_json(text: str, what: str) -> Any:
    """`text` as JSON the API can keep (schemas.json_text.strict_loads), at most MAX_JSON_DEPTH levels deep, with
    valid Unicode. Raises ClientError invalid_json naming `what` (e.g. "body") and the problem."""
    try:
        parsed = strict_loads(text)
    except InvalidJson as exc:
        raise ClientError("invalid_json", f"{what} is not valid JSON: {exc}") from exc
    _check_depth(parsed)
    return parsed


def validation_details(error: ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors as {field, problem, type}: the field a dotted path of names and indices (without the
    union members pydantic adds, such as `constrained-str`), the problem without its `Value error, ` prefix."""
    return [
        {
            "field": ".".join(str(p) for p in e["loc"] if not _schema_name(p)) or "(body)",
            "problem": e["msg"].removeprefix("Value error, "),
            "type": e["type"],
        }
        for e in error.errors(include_url=False, include_input=False)[:20]
    ]


def _schema_name(part: str | int) -> bool:
    """A union member's schema name in an error's location (`constrained-str`, `list[...]`), not a field."""
    return isinstance(part, str) and ("[" in part or "-" in part)


def parse_contract(model: type[Model], data: Any) -> Model:
    if not isinstance(data, dict):
        raise ClientError("invalid_body", f"body must be a JSON object, got {json_type(data)}", status=422)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = validation_details(exc)
        first = details[0]
        raise ClientError("validation_failed", f"{first['field']}: {first['problem']}", details, status=422) from exc


def json_body(event: dict[str, Any], max_bytes: int, media_type: str = JSON) -> Any:
    """The JSON value of a request sent as `media_type` (application/json), at most `max_bytes` long."""
    require_json_content_type(event, media_type)
    return parse_json(raw_body(event, max_bytes))


def contract_body(event: dict[str, Any], model: type[Model], max_bytes: int) -> Model:
    """The request's JSON body parsed as `model`; a 4xx ClientError naming the first problem otherwise."""
    return parse_contract(model, json_body(event, max_bytes))
