"""AuthorizerFunction: the HTTP API's Lambda authorizer and the WebSocket API's $connect authorizer."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.authorizer.wiring import build

logger = Logger()
authorizer = build()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "methodArn" in event:  # WebSocket $connect: token in the query string
        answer = authorizer.websocket(event)
        logger.info("websocket authorization", allowed=bool(answer["context"]))
        return answer
    answer = authorizer.http(event)
    logger.info("http authorization", allowed=answer["isAuthorized"], route=event.get("routeKey"))
    return answer
