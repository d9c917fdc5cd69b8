"""Subcommands to run and operate the daemon: run, status, dead-letters, launchd, token-store."""

from __future__ import annotations

import argparse
import faulthandler
import getpass
import json
import os
import signal
import sqlite3
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from schemas.json_text import json_type

SHOWN_DEAD_LETTERS = 10


def _run(args: argparse.Namespace) -> int:
    from edge_worker.config import ConfigError, api_token, load_config, sqs_client
    from edge_worker.model_store import ModelStoreError
    from edge_worker.outbox import OutboxError
    from edge_worker.prompting import PromptFormatError
    from edge_worker.runtime import build_worker

    try:
        config = load_config(args.config)
        worker = build_worker(config, token=api_token(token_file=config.token_file), sqs=sqs_client(config))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (PromptFormatError, ModelStoreError, OutboxError) as error:  # a model or outbox that cannot be used
        print(f"error: {error}", file=sys.stderr)
        return 1
    faulthandler.enable()  # a native crash (MLX, sqlite) leaves every thread's traceback in the log
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker.start()
    stop.wait()
    print("stopping: finishing the translation in flight...", file=sys.stderr, flush=True)
    if not worker.stop():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # everything is saved or released; MLX must not be torn down under a running forward pass
    return 0


def _status(args: argparse.Namespace) -> int:
    from edge_worker.config import ConfigError, load_config, sqs_client

    try:
        config = load_config(args.config)
        sqs = sqs_client(config)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    broken: list[str] = []
    status = _status_file(config.status_path, broken)
    status["queue_url"] = config.queue_url
    try:
        attributes = sqs.get_queue_attributes(
            QueueUrl=config.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        status["queue_waiting"] = int(attributes["ApproximateNumberOfMessages"])
        status["queue_in_flight"] = int(attributes["ApproximateNumberOfMessagesNotVisible"])
    except Exception as error:  # offline: show what is known locally
        status["queue_error"] = str(error)
    from edge_worker.outbox import Outbox, OutboxError

    try:
        outbox = Outbox(config.outbox_path)
        try:
            status["outbox"] = outbox.size()
            status["dead_letters"] = outbox.dead_letter_count()
            status["oldest_dead_letters"] = [
                {key: value for key, value in asdict(letter).items() if key != "body"}
                for letter in outbox.dead_letters(SHOWN_DEAD_LETTERS)
            ]
        finally:
            outbox.close()
    except (OutboxError, sqlite3.Error, ValueError) as error:
        broken.append(str(error) if isinstance(error, OutboxError) else f"{config.outbox_path}: {error}")
    if broken:
        status["unreadable_files"] = list(broken)
    print(json.dumps(status, indent=2))
    for problem in broken:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if broken else 0


def _status_file(path: Path, broken: list[str]) -> dict[str, Any]:
    """The worker's status.json as a dict; an unreadable one is added to `broken` and reads as {}."""
    if not path.exists():
        return {"note": "the worker has not run yet"}
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        broken.append(f"{path}: unreadable ({getattr(error, 'strerror', None) or error})")
        return {}
    if not isinstance(status, dict):
        broken.append(f"{path}: unreadable (a JSON {json_type(status)}, not an object)")
        return {}
    return status


def _dead_letters(args: argparse.Namespace) -> int:
    from edge_worker.config import ConfigError, load_config
    from edge_worker.outbox import Outbox, OutboxError

    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        outbox = Outbox(config.outbox_path)
        try:
            if args.requeue:
                print(f"{outbox.requeue_dead_letters()} dead letter(s) queued again at the end of the outbox")
            else:
                print(json.dumps([asdict(letter) for letter in outbox.dead_letters(limit=args.limit)], indent=2))
        finally:
            outbox.close()
    except OutboxError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (sqlite3.Error, ValueError) as error:  # a damaged table or an entry that is not JSON
        print(f"error: {config.outbox_path}: {error}", file=sys.stderr)
        return 1
    return 0


def _launchd(args: argparse.Namespace) -> int:
    from edge_worker import launchd

    if args.action == "print":
        sys.stdout.write(launchd.agent_plist().decode())
        return 0
    if sys.platform != "darwin":
        print(
            f"error: launchd is macOS-only: `launchd print` prints the agent, to save as {launchd.plist_path()} on a Mac",
            file=sys.stderr,
        )
        return 1
    if args.action == "install":
        print(f"installed {launchd.install()}")
    elif launchd.uninstall():
        print("uninstalled")
    else:
        print("no agent installed")
    return 0


def _token_store(args: argparse.Namespace) -> int:
    import keyring
    import keyring.errors

    from edge_worker.config import KEYRING_SERVICE, KEYRING_USER, TOKEN_VARIABLE

    token = getpass.getpass("edge API token: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    if not token:
        print("error: empty token", file=sys.stderr)
        return 2
    instead = f'set {TOKEN_VARIABLE}, or "token_file" in edge.json (a file of mode 0600), instead'
    try:
        keyring.set_password(KEYRING_SERVICE, KEYRING_USER, token)
    except keyring.errors.NoKeyringError:
        print(f"error: no OS keychain is available here: {instead}", file=sys.stderr)
        return 1
    except keyring.errors.KeyringError as error:
        print(f"error: the OS keychain did not store the token ({error}): {instead}", file=sys.stderr)
        return 1
    print("stored in the OS keychain")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    for name, handler, text in (
        ("run", _run, "run the daemon until SIGINT/SIGTERM"),
        ("status", _status, "queue depth, outbox size, model and last error (exit 1 when a local file is unreadable)"),
    ):
        command = subparsers.add_parser(name, help=text)
        command.add_argument("--config", type=Path, default=None, help="settings file (default $SSP_HOME/edge.json)")
        command.set_defaults(handler=handler)
    dead = subparsers.add_parser(
        "dead-letters", help="requests the API refused for good, set aside from the outbox (kept until requeued)"
    )
    dead.add_argument("--config", type=Path, default=None, help="settings file (default $SSP_HOME/edge.json)")
    dead.add_argument("--limit", type=int, default=100, help="how many to show, oldest first")
    dead.add_argument("--requeue", action="store_true", help="put them all back at the end of the outbox")
    dead.set_defaults(handler=_dead_letters)
    agent = subparsers.add_parser("launchd", help="install/uninstall the launchd agent (macOS only), or print it")
    agent.add_argument("action", choices=("install", "uninstall", "print"))
    agent.set_defaults(handler=_launchd)
    token = subparsers.add_parser("token-store", help="keep the edge API token in the OS keychain")
    token.set_defaults(handler=_token_store)
