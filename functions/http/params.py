"""Query-string values every listing shares: page size and the opaque `next` token."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from functions.errors import ClientError

DEFAULT_LIMIT = 25
MAX_LIMIT = 100


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not 1 <= int(raw) <= MAX_LIMIT:
        raise ClientError("invalid_limit", f"limit must be an integer from 1 to {MAX_LIMIT}, got {raw[:40]!r}")
    return int(raw)


def page_args(params: dict[str, str]) -> tuple[int, str | None]:
    """(limit, next token) of a listing request."""
    return parse_limit(params.get("limit")), params.get("next")


def query(event: BaseProxyEvent) -> dict[str, str]:
    """The request's query-string parameters (empty when there are none)."""
    return event.query_string_parameters or {}


def request_id_param(params: dict[str, str]) -> str | None:
    """The optional `request_id` (1 to 128 characters, schemas.contracts.RequestId); 400 when malformed."""
    raw = params.get("request_id")
    if raw is not None and not 1 <= len(raw) <= 128:
        raise ClientError("invalid_request_id", f"request_id must be 1 to 128 characters, got {len(raw)}")
    return raw
