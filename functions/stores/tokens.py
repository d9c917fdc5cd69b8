"""The tokens table: API tokens by their SHA-256 (never the token), with scopes, a bound source, expiry, revocation."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Attr

from functions.stores.dynamo import table

SCOPES = ("ingest", "read", "refresh", "edit", "delete", "edge", "admin")
TOKEN_PREFIX = "ssp_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def check_grant(scopes: list[str], source: str | None) -> None:
    """ValueError unless the scopes are known and an ingest token is bound to one source subsystem."""
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {', '.join(SCOPES)}; got {', '.join(scopes) or 'none'}")
    if "ingest" in scopes and not source and "admin" not in scopes:
        raise ValueError("an ingest token must be bound to one source subsystem: add --source NAME")
    if source and "ingest" not in scopes:
        raise ValueError("--source only applies to tokens with the ingest scope")


@dataclass(frozen=True)
class TokenGrant:
    name: str
    scopes: tuple[str, ...]
    source: str | None

    def context(self) -> dict[str, str]:
        return {"name": self.name, "scopes": " ".join(self.scopes), "source": self.source or ""}


def grant_from_item(item: dict[str, Any] | None, token_hash: str, now: float | None = None) -> TokenGrant | None:
    """The grant an item gives, or None if missing, revoked, expired or not this token."""
    if not item or not hmac.compare_digest(str(item.get("token_hash", "")), token_hash):
        return None
    if item.get("revoked"):
        return None
    expires = item.get("expires_at")
    if expires is not None and float(expires) <= (now or time.time()):
        return None
    return TokenGrant(str(item.get("name", "")), tuple(item.get("scopes", [])), item.get("source") or None)


class TokenStore:
    def __init__(self, table_name: str) -> None:
        self.table = table(table_name)

    def lookup(self, token: str) -> TokenGrant | None:
        token_hash = hash_token(token)
        item = self.table.get_item(Key={"token_hash": token_hash}).get("Item")
        return grant_from_item(item, token_hash)

    def create(self, name: str, scopes: list[str], source: str | None = None, ttl_seconds: int | None = None) -> str:
        """Store a new token's hash and return the token (shown once); ValueError for a grant check_grant refuses."""
        check_grant(scopes, source)
        token = new_token()
        item: dict[str, Any] = {
            "token_hash": hash_token(token),
            "name": name,
            "scopes": sorted(set(scopes)),
            "created_at": int(time.time()),
            "revoked": False,
        }
        if source:
            item["source"] = source
        if ttl_seconds:
            item["expires_at"] = int(time.time()) + ttl_seconds
        self.table.put_item(Item=item, ConditionExpression=Attr("token_hash").not_exists())
        return token

    def revoke(self, name: str) -> int:
        revoked = 0
        for item in self.list():
            if item["name"] == name and not item.get("revoked"):
                self.table.update_item(
                    Key={"token_hash": item["token_hash"]},
                    UpdateExpression="SET revoked = :t",
                    ExpressionAttributeValues={":t": True},
                )
                revoked += 1
        return revoked

    def list(self) -> list[dict[str, Any]]:
        """Admin listing (not on any request path)."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = self.table.scan(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
