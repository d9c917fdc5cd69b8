"""The stores' one number codec: any JSON number DynamoDB can hold goes in exactly and comes back as it was sent;
one it cannot hold is a 422 naming it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from functions.errors import ClientError
from functions.stores.dynamo import dynamo_number, plain, to_dynamo

SENT = {
    "fraction": 0.6,
    "step": 0.05,
    "tiny": 1e-7,
    "float_noise": 0.30000000000000004,
    "big": 123456789012345678901234567890,
    "round_big": 10**40,
    "negative": -2.5e-3,
    "whole": 42,
    "flag": True,
    "nothing": None,
    "nested": [{"x": 1.5}, [2.25, "text"]],
}


def test_every_storable_number_survives_the_wire_format_unchanged():
    wire = TypeSerializer().serialize(to_dynamo(SENT))  # what boto3 sends DynamoDB
    assert plain(TypeDeserializer().deserialize(wire)) == SENT
    assert type(plain(TypeDeserializer().deserialize(wire))["flag"]) is bool


def test_floats_become_the_decimal_of_their_shortest_repr():
    assert dynamo_number(0.6) == Decimal("0.6") and dynamo_number(1e-7) == Decimal("1E-7")
    assert dynamo_number(10**40) == Decimal("1E+40")  # 41 digits, but only one of them significant


@pytest.mark.parametrize(
    "number, why",
    [
        (10**40 + 1, "more than 38 significant digits"),
        (1e300, "out of range"),
        (1e126, "out of range"),
        (1e-131, "out of range"),
        (float("nan"), "not a finite number"),
    ],
)
def test_a_number_dynamodb_cannot_hold_exactly_is_a_422_naming_it(number, why):
    with pytest.raises(ClientError) as refused:
        to_dynamo({"deep": [{"value": number}]})
    assert (refused.value.status, refused.value.code) == (422, "unstorable_number")
    assert why in refused.value.message and "38 significant digits" in refused.value.message
