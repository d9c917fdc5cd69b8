"""`distill` subcommand: the cloud model's JSON for stored summaries, kept as training data for `tune`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from edge_worker.cli_translate import CliError, _progress


def register(subparsers: Any) -> None:
    distill = subparsers.add_parser(
        "distill", help="ask the cloud model for a system's JSON of stored summaries (training data for tune)"
    )
    distill.add_argument("--system", required=True, metavar="NAME", help="the system to distill")
    distill.add_argument("--count", type=int, required=True, help="how many summaries not yet distilled")
    distill.add_argument("--yes", action="store_true", help="do not ask before paying")
    distill.add_argument("--systems-dir", type=Path, help="folder of system definitions (default: shipped ones)")
    distill.set_defaults(handler=run_distill_command)


def api_settings() -> tuple[str, str]:
    """(API URL, token): $SSP_API_URL or the edge configuration's api_url, and the edge's API token.

    Raises ConfigError naming what to set."""
    from edge_worker.config import ConfigError, api_token, load_config

    url = os.environ.get("SSP_API_URL", "")
    if not url:
        try:
            url = load_config().api_url
        except ConfigError as error:
            raise ConfigError(f"no API URL: set SSP_API_URL ({error})") from None
    return url, api_token()


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise CliError("cannot ask for confirmation without a terminal: pass --yes to accept the cost")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _report_forgotten(dropped: dict[str, int]) -> None:
    for name, rows in dropped.items():
        _progress(f"{name}: dropped {rows} distilled row(s) of summaries deleted in the cloud")


def run_distill(args: argparse.Namespace) -> int:
    from edge_worker.api_client import EdgeApi
    from edge_worker.cli_tune import _system
    from edge_worker.distill import candidates, distill, estimate, forget_deleted

    if args.count <= 0:
        raise CliError("--count must be positive")
    system = _system(args)
    api = EdgeApi(*api_settings())
    _report_forgotten(forget_deleted(api))
    chosen = candidates(api, system, args.count)
    if not chosen:
        print(f"nothing to distill: every stored summary is already distilled for {system.name}")
        return 0
    cost = estimate(api, system, chosen)
    print(f"distill {system.name}: {cost.describe()}")
    if not args.yes and not _confirm("go ahead?"):
        print("nothing asked, nothing paid")
        return 1
    report = distill(api, system, chosen, progress=_progress)
    paid = "unknown" if report.cost_usd is None else f"${report.cost_usd:.4f}"
    print(f"kept {len(report.kept)}, not kept {len(report.invalid)} (invalid answers), cost {paid}")
    for summary_id, problems in report.invalid.items():
        print(f"invalid: {summary_id}: {'; '.join(problems)}", file=sys.stderr)
    return 0


def run_distill_command(args: argparse.Namespace) -> int:
    from edge_worker.api_client import ApiRejected, ApiUnavailable
    from edge_worker.cli_translate import handle
    from edge_worker.config import ConfigError

    try:
        return handle(run_distill, args)
    except (ConfigError, ApiUnavailable, ApiRejected) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
