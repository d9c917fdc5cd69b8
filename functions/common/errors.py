"""Client errors with a code and a sentence naming the problem, rendered as the ErrorBody contract."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response


class ClientError(Exception):
    status = 400

    def __init__(
        self, code: str, message: str, details: list[dict[str, Any]] | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details
        if status is not None:
            self.status = status


def error_response(error: ClientError) -> Response:
    body: dict[str, Any] = {"error": error.code, "message": error.message}
    if error.details:
        body["details"] = error.details
    return Response(status_code=error.status, content_type="application/json", body=json.dumps(body))


def register_error_handlers(app) -> None:
    """Every ClientError becomes its JSON body; unknown routes get one too."""
    app.exception_handler(ClientError)(error_response)

    @app.not_found
    def _not_found(_exc) -> Response:
        return error_response(ClientError("not_found", "no such route", status=404))
