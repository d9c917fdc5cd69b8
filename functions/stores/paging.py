"""Paginated DynamoDB Queries with opaque `next` tokens: the only way a request path lists anything."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import And, Equals
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


def _query(table: Any, query: dict[str, Any]) -> dict[str, Any]:
    try:
        return dict(table.query(**query))
    except BotoClientError as error:
        if "ExclusiveStartKey" in query and error.response.get("Error", {}).get("Code") == "ValidationException":
            raise _not_ours() from error  # e.g. a start key from another partition
        raise


def _pinned(condition: Any) -> dict[str, Any]:
    """The attributes a boto3 KeyConditionExpression holds equal to one value (its partition key, and a sort key
    given exactly): name -> value."""
    if isinstance(condition, Equals):
        attribute, value = condition.get_expression()["values"]
        return {attribute.name: value}
    if isinstance(condition, And):
        return {k: v for part in condition.get_expression()["values"] for k, v in _pinned(part).items()}
    return {}


def _check_same_partition(query: dict[str, Any], start: dict[str, Any]) -> None:
    """A token is for the partition it was issued in: one from another (e.g. another kind) is not ours. DynamoDB
    refuses some such start keys and answers others with an empty page."""
    for name, value in _pinned(query.get("KeyConditionExpression")).items():
        if name in start and start[name] != value:
            raise _not_ours()


def query_page(table: Any, *, limit: int, next_token: str | None, **query: Any) -> Page:
    start = decode_token(next_token)
    if start:
        _check_start_key(table, query.get("IndexName"), start)
        _check_same_partition(query, start)
        query["ExclusiveStartKey"] = start
    page = _query(table, {"Limit": limit, **query})
    return page.get("Items", []), encode_token(page.get("LastEvaluatedKey"))


DONE = "done"  # a merged Query that has no more items


def merged_query_page(
    table: Any,
    queries: Mapping[str, dict[str, Any]],
    order: Callable[[dict[str, Any]], Any],
    *,
    limit: int,
    next_token: str | None,
) -> Page:
    """One page of several Queries of one index read as a single list, descending by `order` (each Query returns its
    items in that order, e.g. the partitions of a GSI read newest first). Each Query reads at most `limit` items; the
    token keeps where each one goes on (the key of its last item shown, or "done")."""
    places = _decode_places(next_token, set(queries))
    fetched: list[tuple[str, dict[str, Any]]] = []
    resume: dict[str, dict[str, Any] | None] = {}
    for name, query in queries.items():
        place = places.get(name)
        if place == DONE:
            continue
        request = {**query, "Limit": limit}
        if isinstance(place, dict):
            _check_start_key(table, query.get("IndexName"), place)
            _check_same_partition(query, place)
            request["ExclusiveStartKey"] = place
        page = _query(table, request)
        fetched += [(name, item) for item in page.get("Items", [])]
        resume[name] = page.get("LastEvaluatedKey")
    fetched.sort(key=lambda pair: order(pair[1]), reverse=True)  # stable: each Query's own order is kept
    shown, held = fetched[:limit], fetched[limit:]
    key_names = sorted(_page_key_types(table, next(iter(queries.values())).get("IndexName")) or ())
    for name, last_key in resume.items():
        if any(source == name for source, _ in held):  # read again from just after the last one shown
            mine = [item for source, item in shown if source == name]
            if mine:
                places[name] = {key: mine[-1][key] for key in key_names}
        else:
            places[name] = DONE if last_key is None else last_key
    items = [item for _, item in shown]
    if all(places.get(name) == DONE for name in queries):
        return items, None
    plain_places = {name: (place if place == DONE else _plain_key(place)) for name, place in places.items()}
    return items, base64.urlsafe_b64encode(json.dumps(plain_places, sort_keys=True).encode()).decode().rstrip("=")


def _plain_key(key: Any) -> Any:
    return {k: (int(v) if isinstance(v, Decimal) else v) for k, v in key.items()} if isinstance(key, dict) else key


def _decode_places(token: str | None, names: set[str]) -> dict[str, Any]:
    """name -> start key, DONE, or None (from the beginning); a token not made by merged_query_page is refused."""
    if not token:
        return {}
    if len(token) > MAX_TOKEN_CHARS:
        raise _not_ours()
    try:
        places = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise _not_ours() from exc
    if not isinstance(places, dict) or not set(places) <= names:
        raise _not_ours()
    for place in places.values():
        if place is None or place == DONE:
            continue
        if (
            not isinstance(place, dict)
            or not place
            or not all(isinstance(k, str) and _key_value_ok(v) for k, v in place.items())
        ):
            raise _not_ours()
    return places
