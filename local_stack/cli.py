"""`python -m local_stack up|invoke`: run the pipeline's cloud side locally, or one function once."""

from __future__ import annotations

import argparse
import errno
import json
import os
import shutil
import signal
import socket
import sys
import threading
import traceback
from pathlib import Path

from edge_worker.config import config_path, private_home, ssp_home
from local_stack.console import Console, logs_dir, new_log_path, redact_old_logs
from local_stack.data_lock import DataInUse, data_lock
from local_stack.edge_settings import edge_settings, edge_token_path, write_edge_settings
from local_stack.local_tokens import local_tokens, state_dir, tokens_path
from local_stack.samples import post_samples
from local_stack.stack import LocalStack, StackOptions
from local_stack.summarizer_choice import DEMO_MODEL, choose_summarizer
from local_stack.template import DEFAULT_TEMPLATE
from schemas.stdout_pipe import STOPPED_BY_PIPE, quiet_when_reader_leaves

PORT_VARIABLE = "SSP_LOCAL_PORT"
DEFAULT_PORT = 8080
HIGHEST_PORT = 65535
EDGE_GRACE_S = 2.0  # a translation in flight gets this long, then its message goes back to the queue
REDACTED_TOKEN = "ssp_…(redacted; see tokens.json)"  # how the log file shows a token the terminal shows


def _chosen_port(args: argparse.Namespace) -> tuple[int, str | None]:
    """The API port from --port, else $SSP_LOCAL_PORT, else 8080, as (port, None); (0, why) when it is no usable port."""
    if args.port is None:
        text = os.environ.get(PORT_VARIABLE) or str(DEFAULT_PORT)
        source = f"{PORT_VARIABLE}={text!r}"
        try:
            port = int(text)
        except ValueError:
            return (
                0,
                f"{source} is not a port number: use a whole number from 0 to {HIGHEST_PORT - 1} (0 picks a free one)",
            )
    else:
        port, source = args.port, f"--port {args.port}"
    if port == HIGHEST_PORT:
        return 0, (
            f"{source}: the live updates listen on the next port ({port + 1}), which does not exist; "
            f"use 0 to {HIGHEST_PORT - 1} (0 picks a free one)"
        )
    if not 0 <= port < HIGHEST_PORT:
        return 0, f"{source} is out of range: use 0 to {HIGHEST_PORT - 1} (0 picks a free one)"
    return port, None


def _port_problem(host: str, port: int) -> str | None:
    """Why the API cannot listen on `port`, in words naming how to choose another; None when it can."""
    if port == 0:
        return None
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
            return (
                f"port {port} on {host} {reason} (another `make run`?). Choose another with --port N or "
                f"{PORT_VARIABLE}=N (0 picks a free one), or stop what listens there."
            )
    return None


def _python() -> str:
    """This interpreter as a user would type it here: `.venv/bin/python` from the project folder."""
    path = Path(sys.executable)
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def reset_local_data() -> list[Path]:
    """Delete the local stack's data, tokens and edge state (never models or logs); returns what was removed."""
    folder = state_dir()
    removed = []
    for path in (folder / "state", folder / "edge", tokens_path(), edge_token_path()):
        if path.is_dir():
            shutil.rmtree(path)
            removed.append(path)
        elif path.exists():
            path.unlink()
            removed.append(path)
    return removed


def _up(args: argparse.Namespace) -> int:
    args.port, problem = _chosen_port(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        with data_lock(state_dir()):
            return _up_locked(args)
    except DataInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _up_locked(args: argparse.Namespace) -> int:
    # The live-updates port follows the API's, so a dashboard tab opened before a restart reconnects.
    args.websocket_port = args.port + 1 if args.port else 0
    problem = _port_problem("127.0.0.1", args.port) or _port_problem("127.0.0.1", args.websocket_port)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    home = ssp_home()
    args.tightened = private_home(home)  # umask 0o077 from here on: data, tokens and logs are the user's only
    args.redacted_logs = redact_old_logs(home, REDACTED_TOKEN)
    if args.reset:
        removed = reset_local_data()
        print(f"--reset: removed the local data ({len(removed)} item(s) under {state_dir()})", flush=True)
    stop = threading.Event()
    console = Console(new_log_path(home), verbose=args.verbose, on_terminal_gone=stop.set)  # as Ctrl-C would
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    args.hard_exit = False
    with console:
        code = _serve(args, console, stop)
    if console.terminal_gone and code == 0:
        code = STOPPED_BY_PIPE
    if args.hard_exit:  # a local model may still be generating on a daemon thread; nothing else is left: leave now
        sys.stdout.flush()
        os._exit(code)
    return code


def _serve(args: argparse.Namespace, console: Console, stop: threading.Event) -> int:
    say = console.say
    say(f"starting the local stack (logs: {console.log_path})")
    done = []
    if args.tightened:
        done.append(f"made {len(args.tightened)} file(s) and folder(s) under {ssp_home()} readable by you only")
    if args.redacted_logs:
        done.append(f"took the tokens out of {len(args.redacted_logs)} older log file(s)")
    if done:  # once: the next start finds nothing left to change
        say(f"{' and '.join(done)} (an older version left them open to other users)")
    if args.llm != "scripted":
        say("preparing the summarizer...")
    summarizer = choose_summarizer(args.llm)
    edge = None
    stack = LocalStack(
        StackOptions(
            template=Path(args.template),
            api_port=args.port,
            websocket_port=args.websocket_port,
            extra_env=summarizer.env,
            parameters=summarizer.parameters,
            telemetry=console.event,
            state_dir=state_dir() / "state",
            on_checkpoint_error=lambda exc: say(f"warning: could not save the local data: {exc}"),
        )
    )
    args.hard_exit = bool(summarizer.server)
    try:
        try:
            stack.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                problem = _port_problem("127.0.0.1", args.port) or _port_problem("127.0.0.1", args.websocket_port)
                say(f"error: {problem or exc}")
                return 2
            raise
        os.environ.update(stack.aws_environment())
        tokens, kept = local_tokens(stack.resolved("TokensTable"))
        for token in tokens.values():
            console.redact(token, REDACTED_TOKEN)
        edge_config = edge_settings(stack, args.edge_model)
        written = write_edge_settings(edge_config, tokens["edge"])
        _banner(say, stack, summarizer.description, tokens, kept, written, args)
        if args.samples and not stack.restored:  # kept data has them, or had them until the user deleted them
            for session_id, status in post_samples(stack.api_url, tokens):
                if status >= 400:
                    say(f"error: posting the sample {session_id} answered HTTP {status}")
        if args.edge:
            edge = _start_edge_worker(say, edge_config, tokens["edge"], stack)
        say("Ready. Each step of the pipeline shows below; Ctrl-C stops everything.")
        stop.wait()
        say("stopping...")
    except Exception as exc:
        say(f"error: the local stack failed: {exc} (details: {console.log_path})")
        traceback.print_exc()  # into the log file
        return 1
    finally:
        if edge:
            edge.stop(grace_s=EDGE_GRACE_S)
            args.hard_exit = True
        stack.stop()
        summarizer.stop()
        if stack.saved:
            say(f"stopped; kept {stack.saved} in {state_dir()} (start again to continue, --reset to start clean)")
        else:
            say("stopped")
    return 0


def _banner(say, stack: LocalStack, summarizer: str, tokens: dict, kept: bool, edge_json, args) -> None:
    restored = f"restored {stack.restored}" if stack.restored else "empty (first run or --reset)"
    say(f"local stack ready in {stack.started_in_s:.1f} s")
    say(f"  HTTP API     {stack.api_url}")
    say(f"  Dashboard    {stack.api_url}/#token={tokens['dashboard']}&ws={stack.websocket_api.url}")
    say(f"  Summarizer   {summarizer}")
    translator = args.edge_model or f"{DEMO_MODEL} (bundled: a small offline demo model, expect rough JSON)"
    say(f"  Translator   {translator if args.edge else 'none (--no-edge)'}")
    say(f"  Data         {state_dir()}: {restored}; saved every {stack.options.checkpoint_s:.0f} s and on Ctrl-C")
    say(f"  Tokens       {tokens_path()} (0600; {'kept from the last run' if kept else 'new'})")
    say(f"  Edge queue   {stack.resolved('EdgeQueue')}")
    if edge_json:
        say(f"  Edge config  {edge_json} (`{_python()} -m edge_worker status` uses it)")
    else:
        say(f"  Edge config  {config_path()} holds another stack's settings: left as it is")
    say(f"  AWS (moto)   {stack.moto.url}")
    say(f"  Logs         {logs_dir(ssp_home())} (--verbose shows them here)")


def _start_edge_worker(say, settings: dict, token: str, stack: LocalStack):
    """The edge worker in this process, translating with the local model (as it would on the Mac)."""
    from edge_worker.config import EdgeConfig
    from edge_worker.runtime import build_worker

    say("loading the translation model for the edge worker...")
    config = EdgeConfig.model_validate(settings)
    return build_worker(config, token=token, sqs=stack.client("sqs")).start()


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


@quiet_when_reader_leaves
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="local_stack", description=__doc__)
    parser.add_argument(
        "--template",
        default=str(DEFAULT_TEMPLATE),
        help="the SAM template to run (default: the project's template.yaml)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the local stack and serve until Ctrl-C")
    up.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"HTTP API port (0 picks a free one; default ${PORT_VARIABLE} or {DEFAULT_PORT})",
    )
    up.add_argument("--reset", action="store_true", help="delete the local data and tokens kept from earlier runs")
    up.add_argument("--verbose", action="store_true", help="also show every structured log line on the terminal")
    up.add_argument(
        "--llm",
        choices=("auto", "mlx", "scripted"),
        default="auto",
        help="auto: Claude if ANTHROPIC_API_KEY (or SUMMARIZER_PROVIDER=bedrock) is set, else summaries written in "
        "advance for the samples and the local model for other sessions; mlx: the local model for every session",
    )
    up.add_argument(
        "--no-samples",
        dest="samples",
        action="store_false",
        help="do not post the sample sessions (posted when the local data is empty: a first run or --reset)",
    )
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
