"""`python -m local_stack up|invoke`: run the pipeline's cloud side locally, or one function once."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from local_stack.local_tokens import issue_local_tokens, state_dir, tokens_path
from local_stack.samples import post_samples
from local_stack.stack import LocalStack, StackOptions
from local_stack.summarizer_choice import choose_summarizer
from local_stack.template import DEFAULT_TEMPLATE


def _say(text: str) -> None:
    print(text, flush=True)


def _up(args: argparse.Namespace) -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    summarizer = choose_summarizer(args.llm)
    edge = None
    stack = LocalStack(
        StackOptions(
            template=Path(args.template), api_port=args.port, extra_env=summarizer.env, parameters=summarizer.parameters
        )
    )
    try:
        stack.start()
        os.environ.update(stack.aws_environment())
        tokens = issue_local_tokens(stack.resolved("TokensTable"))
        _say(f"local stack ready in {stack.started_in_s:.2f}s")
        _say(f"  HTTP API     {stack.api_url}")
        _say(f"  Dashboard    {stack.api_url}/#token={tokens['dashboard']}&ws={stack.websocket_api.url}")
        _say(f"  AWS (moto)   {stack.moto.url}")
        _say(f"  Summarizer   {summarizer.description}")
        _say(f"  Tokens       {tokens_path()}")
        if args.samples:
            for session_id, status in post_samples(stack.api_url, tokens):
                _say(f"  posted {session_id}: HTTP {status}")
        if args.edge:
            edge = _start_edge_worker(stack, tokens["edge"], args.edge_model)
        _say("Ctrl-C stops everything.")
        stop.wait()
    finally:
        print("stopping...", file=sys.stderr, flush=True)
        if edge:
            edge.stop(grace_s=5)
        stack.stop()
        summarizer.stop()
    if edge or summarizer.server:
        # A local model may still be generating on a daemon thread; its child processes are gone, so leave now.
        sys.stdout.flush()
        os._exit(0)
    return 0


def _start_edge_worker(stack: LocalStack, token: str, model: str):
    """The edge worker in this process, translating with the local model (as it would on the Mac)."""
    from edge_worker.config import EdgeConfig
    from edge_worker.runtime import build_worker

    _say("  Edge worker  loading the translation model...")
    config = EdgeConfig(
        api_url=stack.api_url,
        queue_url=stack.resolved("EdgeQueue"),
        backfill_queue_url=stack.resolved("BackfillQueue"),
        model=model,
        query_queue_url=stack.resolved("QueryQueue"),
        state_dir=state_dir() / "edge",
        wait_seconds=5,
        reconcile_seconds=60,
    )
    worker = build_worker(config, token=token, sqs=stack.client("sqs")).start()
    _say(f"  Edge worker  translating with {worker.status.model} for {', '.join(sorted(worker.catalog.systems))}")
    return worker


def _invoke(args: argparse.Namespace) -> int:
    try:
        event = json.loads(Path(args.event).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"error: cannot read event {args.event}: {exc}", file=sys.stderr)
        return 2
    options = StackOptions(template=Path(args.template), event_sources=False, serve_http=False)
    with LocalStack(options) as stack:
        if args.function not in stack.app.functions:
            print(
                f"error: no function {args.function!r} in the template; have: {', '.join(stack.app.functions)}",
                file=sys.stderr,
            )
            return 2
        result = stack.invoke(args.function, event)
    print(json.dumps(result, indent=2, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="local_stack", description=__doc__)
    parser.add_argument("--template", default=str(DEFAULT_TEMPLATE))
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the local stack and serve until Ctrl-C")
    up.add_argument("--port", type=int, default=8080, help="HTTP API port (0 picks a free one)")
    up.add_argument(
        "--llm",
        choices=("auto", "mlx", "scripted"),
        default="auto",
        help="auto: Claude if ANTHROPIC_API_KEY (or SUMMARIZER_PROVIDER=bedrock) is set, else the local model",
    )
    up.add_argument("--no-samples", dest="samples", action="store_false", help="do not post the sample sessions")
    up.add_argument("--no-edge", dest="edge", action="store_false", help="do not run the edge worker")
    up.add_argument(
        "--edge-model", default="", help="MLX model folder or Hugging Face id (default: the prepared SmolLM2)"
    )
    up.set_defaults(run=_up)
    invoke = commands.add_parser("invoke", help="run one template function with an event file")
    invoke.add_argument("function", help="logical id, e.g. IngestFunction")
    invoke.add_argument("--event", "-e", required=True, help="event JSON file, e.g. events/ingest/post_session.json")
    invoke.set_defaults(run=_invoke)
    args = parser.parse_args(argv)
    return args.run(args)
