"""The one error a caller can act on: a code, a sentence naming the problem, and the HTTP status it maps to."""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Bad input or a missing thing; rendered as the ErrorBody contract (functions.http.responses)."""

    status = 400

    def __init__(
        self, code: str, message: str, details: list[dict[str, Any]] | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details
        if status is not None:
            self.status = status


def not_found(message: str) -> ClientError:
    return ClientError("not_found", message, status=404)


def unknown_system(name: str) -> ClientError:
    """404 for a system name no edge has published."""
    return ClientError(
        "unknown_system",
        f"system {name} has not been published (an edge publishes it with PUT /edge/systems/{name}; "
        "GET /systems lists the published ones)",
        status=404,
    )


def content_too_large(what: str, size: int, limit: int) -> ClientError:
    """413 for content kept as one DynamoDB item that would be `size` bytes, over `limit` (bytes as DynamoDB
    counts them: functions.stores.dynamo.item_size)."""
    return ClientError(
        "content_too_large",
        f"{what} would be stored as {size:,} bytes; the limit is {limit:,} bytes (one DynamoDB item holds 400 KB)",
        status=413,
    )
