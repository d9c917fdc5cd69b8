"""DynamoDB helpers the stores share: conditional writes, transactions, reading every page, batch reads and deletes,
and the number codec (to_dynamo on the way in, plain on the way out) every store uses for the values it writes and reads."""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import Binary
from botocore.exceptions import ClientError as BotoClientError

from functions.errors import ClientError, content_too_large
from functions.http.validation import shown

BATCH_GET_LIMIT = 100
# DynamoDB numbers: up to 38 significant digits, magnitudes from 1E-130 up to (not including) 1E+126
# (Amazon DynamoDB Developer Guide, "Supported data types": Number).
NUMBER_DIGITS = 38
SMALLEST_NUMBER = Decimal("1E-130")
NUMBER_LIMIT = Decimal("1E+126")
_SIGNIFICANT = decimal.Context(prec=NUMBER_DIGITS, traps=[decimal.Inexact])
MAX_SHOWN_CHARS = 60


def table(name: str) -> Any:
    """A boto3 resource Table (the default session, so hooks registered on it see every call)."""
    return boto3.resource("dynamodb").Table(name)


def is_condition_failure(error: BotoClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def conditionally(write: Callable[..., Any], **request: Any) -> bool:
    """Make one conditional write (PutItem, UpdateItem, DeleteItem); False when its condition refused it."""
    try:
        write(**request)
    except BotoClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def query_all(source: Any, **query: Any) -> Iterator[dict[str, Any]]:
    """Every item a Query matches, page after page (for work that is not a request path's listing)."""
    while True:
        page = source.query(**query)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def batch_get(
    source: Any,
    keys: list[dict[str, Any]],
    projection: str | None = None,
    consistent: bool = False,
    names: dict[str, str] | None = None,
) -> Iterator[dict[str, Any]]:
    """The items of `source` (a resource Table) found for `keys`, in pages of 100, unprocessed keys asked again."""
    client = source.meta.client
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        request_for_table: dict[str, Any] = {"Keys": keys[start : start + BATCH_GET_LIMIT]}
        if projection:
            request_for_table["ProjectionExpression"] = projection
        if consistent:
            request_for_table["ConsistentRead"] = True
        if names:
            request_for_table["ExpressionAttributeNames"] = names
        request: dict[str, Any] | None = {source.name: request_for_table}
        while request:
            response = client.batch_get_item(RequestItems=request)
            yield from response["Responses"].get(source.name, [])
            request = response.get("UnprocessedKeys") or None


def unstorable(value: Any, why: str) -> ClientError:
    return ClientError(
        "unstorable_number",
        f"the number {shown(value, MAX_SHOWN_CHARS)} cannot be stored ({why}): numbers are kept with at most "
        f"{NUMBER_DIGITS} significant digits and magnitudes from {SMALLEST_NUMBER} to below {NUMBER_LIMIT}",
        status=422,
    )


def dynamo_number(value: int | float | Decimal) -> Decimal:
    """The exact Decimal DynamoDB stores for a JSON number: a float by its shortest repr (0.6 -> Decimal("0.6"),
    1e-07 -> Decimal("1E-7")), an int digit for digit (trailing zeros beyond 38 digits dropped: 10**40 -> 1E+40).

    Raises a 422 ClientError (unstorable_number) for a value DynamoDB cannot hold exactly.
    """
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise unstorable(value, "not a finite number")
    if len(number.as_tuple().digits) > NUMBER_DIGITS:
        try:
            number = number.normalize(_SIGNIFICANT)
        except decimal.Inexact:
            raise unstorable(value, f"more than {NUMBER_DIGITS} significant digits") from None
    if number and not SMALLEST_NUMBER <= abs(number) < NUMBER_LIMIT:
        raise unstorable(value, "out of range")
    return number


def to_dynamo(value: Any) -> Any:
    """A value as the stores write it: every number (not bools) through dynamo_number, in nested maps and lists too.

    Raises a 422 ClientError (unstorable_number) naming a number DynamoDB cannot hold exactly.
    """
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, Decimal)):
        return dynamo_number(value)
    if isinstance(value, dict):
        return {k: to_dynamo(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_dynamo(v) for v in value]
    return value


def batch_delete(source: Any, keys: list[dict[str, Any]]) -> None:
    """Delete the items with these keys (BatchWriteItem in 25s; boto3's batch writer sends unprocessed ones again)."""
    if not keys:
        return
    with source.batch_writer() as batch:
        for key in keys:
            batch.delete_item(Key=key)


def cancellation_reasons(error: BotoClientError) -> list[str] | None:
    """The code per item of a cancelled TransactWriteItems ("None" for items that passed), else None."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    return [str(reason.get("Code", "None")) for reason in error.response.get("CancellationReasons", [])]


def plain(value: Any) -> Any:
    """DynamoDB Decimals back to ints and floats (the reverse of to_dynamo), in nested maps and lists too."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


# DynamoDB's item size limit, 400 KB with 1 KB = 1024 bytes (Amazon DynamoDB Developer Guide, "Constraints": Items).
MAX_ITEM_BYTES = 400 * 1024


def item_size(item: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for an item of boto3 values (str, int, float, Decimal, bytes, Binary, bool, None,
    maps, lists, sets): each attribute's UTF-8 name plus its value.

    The formula of the Amazon DynamoDB Developer Guide, "DynamoDB item sizes and formats": a string is its UTF-8
    bytes, a number 1 byte per two significant digits plus 1, binary its raw bytes, null or a boolean 1, a list or
    map 3 bytes plus 1 per element plus the elements (a map's keys counted as names); a set is its elements.
    """
    return sum(len(name.encode("utf-8")) + _value_size(value) for name, value in item.items())


def _value_size(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, (bytes, bytearray, Binary)):
        return len(value.value if isinstance(value, Binary) else value)
    if isinstance(value, (int, float, Decimal)):
        digits = list((Decimal(repr(value)) if isinstance(value, float) else Decimal(value)).as_tuple().digits)
        while len(digits) > 1 and digits[-1] == 0:  # leading zeros never reach the tuple; trailing ones are trimmed
            digits.pop()
        return (len(digits) + 1) // 2 + 1
    if isinstance(value, Mapping):
        return 3 + sum(len(str(k).encode("utf-8")) + _value_size(v) + 1 for k, v in value.items())
    if isinstance(value, (set, frozenset)):
        return sum(_value_size(v) for v in value)
    if isinstance(value, (list, tuple)):
        return 3 + sum(_value_size(v) + 1 for v in value)
    raise TypeError(f"no DynamoDB type for {type(value).__name__}")


def check_item_size(what: str, item: Mapping[str, Any]) -> None:
    """Raise a 413 ClientError (content_too_large) naming `what`, its size and the limit when `item` (as written,
    after to_dynamo) is larger than one DynamoDB item can be."""
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        raise content_too_large(what, size, MAX_ITEM_BYTES)
