"""The Messages API's wire format: request checks, message bodies, error bodies."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_BATCH_REQUESTS = 100_000


class RequestError(Exception):
    """A request the server rejects with an Anthropic-style error body."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Generation:
    """What a backend wrote for one request, with its token usage."""

    text: str
    input_tokens: int
    output_tokens: int
    stop_reason: str = "end_turn"
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    model: str | None = None  # who wrote it, when not the requested model


def text_of(content: Any) -> str:
    """The text of a string or of a list of content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(block.get("text", "") for block in content if isinstance(block, dict))
    return ""


def prompt_text(body: Mapping[str, Any]) -> str:
    """System text plus every message's text, as one string to match scripts against."""
    parts = [text_of(body.get("system"))]
    parts += [text_of(message.get("content")) for message in body.get("messages", []) if isinstance(message, dict)]
    return "\n".join(part for part in parts if part)


def cached_prefix(body: Mapping[str, Any]) -> str:
    """System text up to and including the last block marked with cache_control ("" when none is)."""
    system = body.get("system")
    if not isinstance(system, list):
        return ""
    marked = [i for i, block in enumerate(system) if isinstance(block, dict) and block.get("cache_control")]
    if not marked:
        return ""
    return "\n".join(text_of([block]) for block in system[: marked[-1] + 1])


def estimate_tokens(text: str) -> int:
    """About four characters a token."""
    return math.ceil(len(text) / 4)


def check_messages_body(body: Any, needs_model: bool, count_only: bool = False) -> None:
    """RequestError (400) naming the first field of a Messages request that is missing or malformed."""
    if not isinstance(body, dict):
        raise RequestError(400, "request body must be a JSON object")
    if needs_model and not (isinstance(body.get("model"), str) and body["model"]):
        raise RequestError(400, "model: field required (a non-empty string)")
    if not count_only:
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise RequestError(400, "max_tokens: field required (an integer >= 1)")
        if body.get("stream"):
            raise RequestError(400, "stream: streaming is not supported by this local server")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "messages: field required (a non-empty list)")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise RequestError(400, f"messages.{index}.role: must be 'user' or 'assistant'")
        if not isinstance(message.get("content"), (str, list)):
            raise RequestError(400, f"messages.{index}.content: must be a string or a list of content blocks")


def check_batch_body(body: Any) -> list[dict[str, Any]]:
    """The requests of a Message Batches create body, or RequestError (400) naming the first bad one."""
    if not isinstance(body, dict):
        raise RequestError(400, "request body must be a JSON object")
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise RequestError(400, "requests: field required (a non-empty list)")
    if len(requests) > MAX_BATCH_REQUESTS:
        raise RequestError(400, f"requests: at most {MAX_BATCH_REQUESTS} requests per batch, got {len(requests)}")
    seen: set[str] = set()
    for index, request in enumerate(requests):
        if not isinstance(request, dict):
            raise RequestError(400, f"requests.{index}: must be an object with custom_id and params")
        custom_id = request.get("custom_id")
        if not isinstance(custom_id, str) or not CUSTOM_ID.match(custom_id):
            raise RequestError(400, f"requests.{index}.custom_id: must match {CUSTOM_ID.pattern}")
        if custom_id in seen:
            raise RequestError(
                400, f"requests.{index}.custom_id: {custom_id!r} is used by another request in this batch"
            )
        seen.add(custom_id)
        try:
            check_messages_body(request.get("params"), needs_model=True)
        except RequestError as error:
            raise RequestError(400, f"requests.{index}.params: {error.message}") from None
    return requests


def message_body(
    model: str, generation: Generation, text: str | None = None, stop_reason: str | None = None
) -> dict[str, Any]:
    """A Messages API reply; `text` and `stop_reason` (a scripted reply) replace the generated ones."""
    content = generation.text if text is None else text
    return {
        "id": f"msg_local_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": generation.model or model,
        "content": [{"type": "text", "text": content}],
        "stop_reason": stop_reason or generation.stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": generation.input_tokens,
            "output_tokens": generation.output_tokens if text is None else estimate_tokens(content),
            "cache_creation_input_tokens": generation.cache_creation_input_tokens,
            "cache_read_input_tokens": generation.cache_read_input_tokens,
        },
    }


def error_object(status: int, message: str) -> dict[str, str]:
    """The `error` member of an error body: its type follows the HTTP status."""
    return {"type": ERROR_TYPES.get(status, "api_error"), "message": message}


def rfc3339(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None
