"""Paginated DynamoDB Queries with opaque `next` tokens: the only way a request path lists anything."""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError as BotoClientError

from functions.errors import ClientError

MAX_TOKEN_CHARS = 4096
MAX_KEY_BYTES = 2048  # DynamoDB's largest key attribute
MAX_KEY_NUMBER = 10**38  # DynamoDB numbers carry 38 digits


def _not_ours() -> ClientError:
    return ClientError("invalid_next_token", "the `next` token is not one this API issued")


def encode_token(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    plain = {k: (int(v) if isinstance(v, Decimal) else v) for k, v in last_key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, sort_keys=True).encode()).decode().rstrip("=")


def _key_value_ok(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < MAX_KEY_NUMBER
    return isinstance(value, str) and 0 < len(value.encode("utf-8", "surrogatepass")) <= MAX_KEY_BYTES


def decode_token(token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    if len(token) > MAX_TOKEN_CHARS:
        raise _not_ours()
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise _not_ours() from exc
    if not isinstance(data, dict) or not all(isinstance(k, str) and _key_value_ok(v) for k, v in data.items()):
        raise _not_ours()
    return data


def _page_key_types(table: Any, index_name: str | None) -> dict[str, str] | None:
    """Attribute name -> DynamoDB type of every key a page of this query ends on (None if unknown)."""
    try:
        schemas = [table.key_schema]
        if index_name:
            indexes = (table.global_secondary_indexes or []) + (table.local_secondary_indexes or [])
            schemas += [index["KeySchema"] for index in indexes if index["IndexName"] == index_name]
        types = {d["AttributeName"]: d["AttributeType"] for d in table.attribute_definitions}
    except (AttributeError, TypeError, KeyError, BotoClientError):
        return None
    return {part["AttributeName"]: types.get(part["AttributeName"], "S") for schema in schemas for part in schema}


def _check_start_key(table: Any, index_name: str | None, start: dict[str, Any]) -> None:
    expected = _page_key_types(table, index_name)
    if expected is None:
        return
    if set(start) != set(expected):
        raise _not_ours()
    for name, kind in expected.items():
        if (kind == "N") != isinstance(start[name], int):
            raise _not_ours()


Page = tuple[list[dict[str, Any]], str | None]  # the items and the token of the next page (None at the end)


def query_page(table: Any, *, limit: int, next_token: str | None, **query: Any) -> Page:
    start = decode_token(next_token)
    if start:
        _check_start_key(table, query.get("IndexName"), start)
        query["ExclusiveStartKey"] = start
    try:
        page = table.query(Limit=limit, **query)
    except BotoClientError as error:
        if start and error.response.get("Error", {}).get("Code") == "ValidationException":
            raise _not_ours() from error  # e.g. a start key from another partition
        raise
    return page.get("Items", []), encode_token(page.get("LastEvaluatedKey"))
