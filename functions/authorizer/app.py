"""Lambda authorizer for the HTTP API (simple responses) and the WebSocket $connect (IAM policy)."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from functions.common.settings import Settings
from functions.common.tokens import TokenGrant, TokenStore

logger = Logger()
tokens = TokenStore(Settings.from_env().tokens_table)


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _websocket_policy(grant: TokenGrant | None, method_arn: str) -> dict:
    return {
        "principalId": grant.name if grant else "anonymous",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow" if grant else "Deny", "Resource": method_arn}
            ],
        },
        "context": grant.context() if grant else {},
    }


@logger.inject_lambda_context
def lambda_handler(event: dict, context) -> dict:
    if "methodArn" in event:  # WebSocket $connect: token in the query string
        token = (event.get("queryStringParameters") or {}).get("token")
        grant = tokens.lookup(token) if token else None
        if grant and "read" not in grant.scopes and "admin" not in grant.scopes:
            grant = None
        logger.info("websocket authorization", allowed=bool(grant))
        return _websocket_policy(grant, event["methodArn"])
    token = _bearer((event.get("headers") or {}).get("authorization"))
    grant = tokens.lookup(token) if token else None
    logger.info("http authorization", allowed=bool(grant), route=event.get("routeKey"))
    return {"isAuthorized": bool(grant), "context": grant.context() if grant else {}}
