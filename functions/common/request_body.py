"""Turn an API Gateway request body into a validated contract, or a ClientError naming the problem."""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from functions.common.errors import ClientError

Model = TypeVar("Model", bound=BaseModel)


def raw_body(event: dict, max_bytes: int) -> bytes:
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


def require_json_content_type(event: dict) -> None:
    content_type = (event.get("headers") or {}).get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        shown = content_type or "none"
        raise ClientError("unsupported_media_type", f"content-type must be application/json, got {shown}",
                          status=415)


def parse_json(data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClientError("invalid_encoding", f"body is not valid UTF-8 (byte {exc.start})") from exc
    if not text.strip():
        raise ClientError("empty_body", "the request body is empty; send a JSON object")
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise ClientError("invalid_json", "JSON is nested too deeply") from exc
    except json.JSONDecodeError as exc:
        raise ClientError("invalid_json", f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc


def validation_details(error: ValidationError) -> list[dict[str, Any]]:
    return [{"field": ".".join(str(p) for p in e["loc"]) or "(body)", "problem": e["msg"], "type": e["type"]}
            for e in error.errors(include_url=False, include_input=False)[:20]]


def parse_contract(model: type[Model], data: Any) -> Model:
    if not isinstance(data, dict):
        raise ClientError("invalid_body", f"body must be a JSON object, got {type(data).__name__}", status=422)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = validation_details(exc)
        first = details[0]
        raise ClientError("validation_failed", f"{first['field']}: {first['problem']}", details, status=422) from exc
