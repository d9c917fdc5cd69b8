"""JSON responses: bodies, contracts, and every ClientError rendered as the ErrorBody contract."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from pydantic import BaseModel

from functions.errors import ClientError


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status, content_type="application/json", body=json.dumps(body, default=str), headers=headers
    )


def contract_response(body: BaseModel, status: int = 200) -> Response:
    """A contract as JSON; optional fields the service did not set are left out."""
    return json_response(body.model_dump(mode="json", exclude_unset=True), status)


def error_response(error: ClientError) -> Response:
    body: dict[str, Any] = {"error": error.code, "message": error.message}
    if error.details:
        body["details"] = error.details
    return json_response(body, error.status)


def register_error_handlers(app: APIGatewayHttpResolver) -> None:
    """Every ClientError becomes its JSON body; unknown routes get one too."""
    app.exception_handler(ClientError)(error_response)

    @app.not_found
    def _not_found(_exc: Exception) -> Response:
        return error_response(ClientError("not_found", "no such route", status=404))
