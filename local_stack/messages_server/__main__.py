"""`python -m local_stack.messages_server [--model PATH] [--port N]`: serve until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from local_stack.messages_server import Backend, MlxBackend, ScriptedBackend, start_messages_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.messages_server",
        description="A local stand-in for Claude: enough of the Anthropic Messages API for the real `anthropic` client.",
    )
    parser.add_argument("--model", help="MLX model folder (mlx_lm.load); without it, scripted deterministic replies")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--max-tokens", type=int, default=512, help="cap on generated tokens per reply")
    args = parser.parse_args(argv)

    if args.model:
        print(f"loading MLX model from {args.model}", file=sys.stderr)
        try:
            backend: Backend = MlxBackend(args.model, max_tokens=args.max_tokens)
        except (OSError, ValueError) as error:
            print(f"error: cannot load model from {args.model}: {error}", file=sys.stderr)
            return 2
    else:
        backend = ScriptedBackend(keep_requests=100)
    try:
        server = start_messages_server(backend, host=args.host, port=args.port, verbose=True)
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    print(f"messages server listening on {server.url} ({type(backend).__name__}); Ctrl-C stops", file=sys.stderr)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops like Ctrl-C
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    if not server.stop():
        sys.stderr.flush()
        os._exit(0)  # MLX must not be torn down under a forward pass that is still running
    return 0


if __name__ == "__main__":
    sys.exit(main())
