"""A local stand-in for Claude: enough of the Anthropic Messages API for the real `anthropic` client.

Replies come from a backend: `ScriptedBackend` (deterministic, with scripted failures for tests),
`MlxBackend` (a local MLX model) or `ReferenceBackend` (replies written in advance, another backend for the
rest). A batch is processed in a background thread, one request at a time, through the same backend.
Modules: protocol (request checks, message and error bodies), backend (the Backend interface and scripted
outcomes), scripted, mlx_backend, reference, batches, server (HTTP).

    python -m local_stack.messages_server --model PATH --port 8765
"""

from local_stack.messages_server.backend import (
    Backend,
    expire,
    fail,
    hang,
    overloaded,
    rate_limited,
    reply,
    truncated,
)
from local_stack.messages_server.mlx_backend import MlxBackend
from local_stack.messages_server.protocol import prompt_text
from local_stack.messages_server.reference import ReferenceBackend
from local_stack.messages_server.scripted import ScriptedBackend
from local_stack.messages_server.server import MessagesServer, start_messages_server

__all__ = [
    "Backend",
    "MessagesServer",
    "MlxBackend",
    "ReferenceBackend",
    "ScriptedBackend",
    "expire",
    "fail",
    "hang",
    "overloaded",
    "prompt_text",
    "rate_limited",
    "reply",
    "start_messages_server",
    "truncated",
]
