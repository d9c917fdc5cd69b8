"""Manage API tokens: create (printed once), list (never the secret), revoke.

    python -m functions.admin tokens create --name planner-prod --scope ingest --source planner --ttl-days 90
    python -m functions.admin tokens list
    python -m functions.admin tokens revoke --name planner-prod

The table is `--table` or $TOKENS_TABLE; AWS access uses the standard boto3 chain (AWS_ENDPOINT_URL for
the local stack).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from functions.settings import SettingError, Settings
from functions.stores.tokens import SCOPES, TokenStore, check_grant
from schemas.patterns import SOURCE_PATTERN
from schemas.stdout_pipe import quiet_when_reader_leaves

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
SOURCE = re.compile(SOURCE_PATTERN)
MAX_TTL_DAYS = 3650
HASH_SHOWN = 8
USAGE_ERROR = 2


class UsageError(Exception):
    """Bad input from the operator: printed on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's own errors also exit 2, with our prefix
        raise UsageError(f"{message} (see --help)")


def _name(value: str) -> str:
    if not NAME.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a token name (letters, digits, . _ : -; up to 64)")
    return value


def _source(value: str) -> str:
    if not SOURCE.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a subsystem name (lowercase letters, digits, -)")
    return value


def _ttl_days(value: str) -> int:
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= MAX_TTL_DAYS:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of days from 1 to {MAX_TTL_DAYS}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m functions.admin", description="Manage the API's bearer tokens.")
    groups = parser.add_subparsers(dest="group", required=True, metavar="tokens", parser_class=_Parser)
    tokens = groups.add_parser("tokens", help="create, list or revoke API tokens")
    commands = tokens.add_subparsers(
        dest="command", required=True, metavar="{create,list,revoke}", parser_class=_Parser
    )

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--table", help="tokens table name (default: $TOKENS_TABLE)")
        return sub

    create = command("create", "create a token and print it once on stdout")
    create.add_argument("--name", required=True, type=_name, help="who or what holds the token")
    create.add_argument(
        "--scope",
        required=True,
        action="append",
        choices=SCOPES,
        dest="scopes",
        help="a scope to grant (repeat for several)",
    )
    create.add_argument("--source", type=_source, help="subsystem an ingest token may post for (required with ingest)")
    create.add_argument("--ttl-days", type=_ttl_days, help="expire after this many days (default: never)")
    listing = command("list", "list tokens (never the secret; hash shortened)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    revoke = command("revoke", "revoke every active token with this name")
    revoke.add_argument("--name", required=True, type=_name)
    return parser


def _store(table: str | None) -> TokenStore:
    try:
        return TokenStore(table or Settings().tokens_table)
    except SettingError:
        raise UsageError(
            "no tokens table: pass --table or set TOKENS_TABLE (the stack output TokensTableName)"
        ) from None


def _when(epoch: Any) -> str:
    if epoch is None or epoch == "":
        return "-"
    return datetime.fromtimestamp(float(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def token_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What `list` shows: never the token, and only the first characters of its hash."""
    rows = [
        {
            "name": str(item.get("name", "")),
            "scopes": " ".join(item.get("scopes", [])),
            "source": item.get("source") or "-",
            "created": _when(item.get("created_at")),
            "expires": _when(item.get("expires_at")),
            "revoked": bool(item.get("revoked")),
            "hash": str(item.get("token_hash", ""))[:HASH_SHOWN],
        }
        for item in items
    ]
    return sorted(rows, key=lambda row: (row["name"], row["created"], row["hash"]))


def _table_text(rows: list[dict[str, Any]]) -> str:
    columns = ["name", "scopes", "source", "created", "expires", "revoked", "hash"]
    cells = [[str(row[c]).lower() if c == "revoked" else str(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def _create(args: argparse.Namespace) -> int:
    try:
        check_grant(args.scopes, args.source)
    except ValueError as error:
        raise UsageError(str(error)) from None
    store = _store(args.table)
    if any(item.get("name") == args.name and not item.get("revoked") for item in store.list()):
        raise UsageError(f"an active token named {args.name!r} exists; revoke it first or choose another name")
    ttl = args.ttl_days * 86400 if args.ttl_days else None
    try:
        token = store.create(args.name, args.scopes, source=args.source, ttl_seconds=ttl)
    except ValueError as error:
        raise UsageError(str(error)) from error
    expiry = f"expires in {args.ttl_days} days" if ttl else "never expires"
    print(
        f"created token {args.name!r} (scopes: {' '.join(sorted(set(args.scopes)))}; "
        f"source: {args.source or '-'}; {expiry}); it is shown only once",
        file=sys.stderr,
    )
    print(token)
    return 0


def _list(args: argparse.Namespace) -> int:
    rows = token_rows(_store(args.table).list())
    if args.json:
        for row in rows:
            print(json.dumps(row))
    else:
        print(_table_text(rows))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    revoked = _store(args.table).revoke(args.name)
    if not revoked:
        raise UsageError(f"no active token named {args.name!r}")
    print(
        f"revoked {revoked} token(s) named {args.name!r}; gateways may honour cached "
        f"authorizations for up to their ReauthorizeEvery window",
        file=sys.stderr,
    )
    return 0


@quiet_when_reader_leaves
def main(argv: Sequence[str] | None = None) -> int:
    if os.environ.get("AWS_REGION") and not os.environ.get("AWS_DEFAULT_REGION"):
        boto3.setup_default_session(region_name=os.environ["AWS_REGION"])  # botocore reads only the latter
    try:
        args = build_parser().parse_args(argv)
        return {"create": _create, "list": _list, "revoke": _revoke}[args.command](args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except NoCredentialsError:
        print(
            "error: no AWS credentials found (standard boto3 chain: env, profile, SSO, instance role)", file=sys.stderr
        )
        return 1
    except NoRegionError:
        print("error: no AWS region set (AWS_REGION, AWS_DEFAULT_REGION or a profile's region)", file=sys.stderr)
        return 1
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            print(
                f"error: the tokens table does not exist here: {error.response['Error'].get('Message', '')}",
                file=sys.stderr,
            )
            return USAGE_ERROR
        print(
            f"error: AWS refused the request ({code}): {error.response.get('Error', {}).get('Message', '')}",
            file=sys.stderr,
        )
        return 1
    except BotoCoreError as error:
        print(f"error: could not reach AWS: {error}", file=sys.stderr)
        return 1
