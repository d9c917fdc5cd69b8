"""The authorizer's logic over a fake token table: bearer tokens for HTTP, read tokens for live updates."""

from __future__ import annotations

import pytest
from cloud_fakes import FakeTokenStore

from functions.authorizer.service import Authorizer, bearer

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/live/$connect"


@pytest.fixture
def tokens() -> FakeTokenStore:
    return FakeTokenStore()


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None), ("", None), (None, None)],
)
def test_only_bearer_headers_carry_a_token(header, token):
    assert bearer(header) == token


def test_http_requests_carry_the_grant_of_a_live_token(tokens):
    authorizer = Authorizer(tokens)
    token = tokens.create("planner", ["ingest"], source="planner")
    answer = authorizer.http({"headers": {"authorization": f"Bearer {token}"}})
    assert answer == {"isAuthorized": True, "context": {"name": "planner", "scopes": "ingest", "source": "planner"}}
    assert authorizer.http({"headers": {"authorization": "Bearer ssp_forged"}}) == {
        "isAuthorized": False,
        "context": {},
    }
    assert not authorizer.http({"headers": {}})["isAuthorized"]
    tokens.revoke("planner")
    assert not authorizer.http({"headers": {"authorization": f"Bearer {token}"}})["isAuthorized"]
    expired = tokens.create("old", ["read"], ttl_seconds=-5)
    assert not authorizer.http({"headers": {"authorization": f"Bearer {expired}"}})["isAuthorized"]


@pytest.mark.parametrize(("scopes", "allowed"), [(["read"], True), (["admin"], True), (["edge"], False)])
def test_live_updates_need_a_read_token(tokens, scopes, allowed):
    token = tokens.create("someone", scopes)
    answer = Authorizer(tokens).websocket({"methodArn": METHOD_ARN, "queryStringParameters": {"token": token}})
    (statement,) = answer["policyDocument"]["Statement"]
    assert statement == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow" if allowed else "Deny",
        "Resource": METHOD_ARN,
    }
    assert answer["principalId"] == ("someone" if allowed else "anonymous")
    assert bool(answer["context"]) is allowed


def test_live_updates_without_a_token_are_denied(tokens):
    answer = Authorizer(tokens).websocket({"methodArn": METHOD_ARN})
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"
