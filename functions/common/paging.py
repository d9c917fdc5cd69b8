"""Paginated DynamoDB Queries with opaque `next` tokens: the only way a request path lists anything."""
from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal
from typing import Any

from functions.common.errors import ClientError

DEFAULT_LIMIT = 25
MAX_LIMIT = 100


def encode_token(last_key: dict | None) -> str | None:
    if not last_key:
        return None
    plain = {k: (int(v) if isinstance(v, Decimal) else v) for k, v in last_key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, sort_keys=True).encode()).decode().rstrip("=")


def decode_token(token: str | None) -> dict | None:
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ClientError("invalid_next_token", "the `next` token is not one this API issued") from exc
    if not isinstance(data, dict) or not all(isinstance(v, (str, int)) for v in data.values()):
        raise ClientError("invalid_next_token", "the `next` token is not one this API issued")
    return data


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ClientError("invalid_limit", f"limit must be an integer from 1 to {MAX_LIMIT}, got {raw!r}")
    return int(raw)


def query_page(table, *, limit: int, next_token: str | None, **query: Any) -> tuple[list[dict], str | None]:
    start = decode_token(next_token)
    if start:
        query["ExclusiveStartKey"] = start
    page = table.query(Limit=limit, **query)
    return page.get("Items", []), encode_token(page.get("LastEvaluatedKey"))
