"""Route declarations: schemas.routes paths in Powertools' syntax, and the middlewares a protected route declares.

    @router.get(rule(routes.SUMMARY), middlewares=scoped("read"))
    def get_summary(summary_id: str) -> Response: ...

`scoped` checks the caller's scopes, then decodes every path parameter and checks it against its pattern
(schemas.routes.PATH_PARAMETERS) before the handler sees it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from functions.errors import ClientError
from functions.http.auth import Principal
from functions.http.validation import shown
from schemas.routes import PATH_PARAMETERS

Middleware = Callable[[APIGatewayHttpResolver, NextMiddleware], Response]
_PATTERNS = {name: re.compile(pattern) for name, pattern in PATH_PARAMETERS.items()}


def rule(path: str) -> str:
    """`/summaries/{summary_id}` -> `/summaries/<summary_id>`."""
    return re.sub(r"\{(\w+)\}", r"<\1>", path)


def principal(router: BaseRouter) -> Principal:
    """The caller of the request being handled (a resolver or a router both know it)."""
    return Principal.from_event(router.current_event.raw_event)


def checked_path_parameter(name: str, value: str) -> str:
    """The decoded value (routing sees the raw path), or a 400 naming the parameter."""
    value = unquote(value)
    if not _PATTERNS[name].fullmatch(value):
        raise ClientError("invalid_path", f"{name} {shown(value)} does not match {PATH_PARAMETERS[name]}", status=400)
    return value


def _checked_path(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
    parameters = app.request.path_parameters  # the handler is called with this very mapping
    for name, value in parameters.items():
        parameters[name] = checked_path_parameter(name, value)
    return next_middleware(app)


def scoped(*scopes: str) -> list[Middleware]:
    """The middlewares of a route that needs one of `scopes` (admin has them all): 403 without, 400 on bad ids."""

    def require_scope(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
        principal(app).require(*scopes)
        return next_middleware(app)

    return [require_scope, _checked_path]
