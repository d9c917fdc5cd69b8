"""Who may call: bearer tokens for the HTTP API (simple responses), a query-string token for the WebSocket API.

HTTP API Lambda authorizer, payload 2.0 with simple responses; WebSocket REQUEST authorizer returning an IAM
policy (API Gateway developer guide). Scopes travel to the functions in the authorizer's context.
"""

from __future__ import annotations

from typing import Any

from functions.stores.tokens import TokenGrant, TokenStore

LIVE_SCOPES = ("read", "admin")  # who may open the dashboard's live updates


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


class Authorizer:
    def __init__(self, tokens: TokenStore) -> None:
        self.tokens = tokens

    def _grant(self, token: str | None) -> TokenGrant | None:
        return self.tokens.lookup(token) if token else None

    def http(self, event: dict[str, Any]) -> dict[str, Any]:
        grant = self._grant(bearer((event.get("headers") or {}).get("authorization")))
        return {"isAuthorized": bool(grant), "context": grant.context() if grant else {}}

    def websocket(self, event: dict[str, Any]) -> dict[str, Any]:
        grant = self._grant((event.get("queryStringParameters") or {}).get("token"))
        if grant and not set(grant.scopes) & set(LIVE_SCOPES):
            grant = None
        return {
            "principalId": grant.name if grant else "anonymous",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Action": "execute-api:Invoke",
                        "Effect": "Allow" if grant else "Deny",
                        "Resource": event["methodArn"],
                    }
                ],
            },
            "context": grant.context() if grant else {},
        }
