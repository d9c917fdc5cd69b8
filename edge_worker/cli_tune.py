"""`tune` subcommand: train a LoRA adapter for one system, adopt it only if held-out F1 improves."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from edge_worker.cli_translate import (
    MODEL_HELP,
    CliError,
    _progress,
    broken_definition,
    check_generation_options,
    handle,
    load_systems_or_fail,
    model_ref,
)


def register(subparsers: Any) -> None:
    from edge_worker.tuning.train import TuneSettings

    defaults = TuneSettings()
    tune = subparsers.add_parser(
        "tune", help="LoRA-tune the translator for one system; adopt the adapter only if held-out F1 improves"
    )
    tune.add_argument("--system", required=True, metavar="NAME", help="the system to tune")
    tune.add_argument("--systems-dir", type=Path, help="folder of system definitions (default: shipped ones)")
    tune.add_argument("--model", help=MODEL_HELP)
    tune.add_argument("--iters", type=int, default=defaults.iters, help=f"training iterations ({defaults.iters})")
    tune.add_argument("--rank", type=int, default=defaults.rank, help=f"LoRA rank ({defaults.rank})")
    tune.add_argument(
        "--num-layers", type=int, default=defaults.num_layers, help=f"blocks given LoRA layers ({defaults.num_layers})"
    )
    tune.add_argument("--scale", type=float, default=defaults.scale, help=f"LoRA scale ({defaults.scale:g})")
    tune.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    tune.add_argument("--batch-size", type=int, default=defaults.batch_size)
    tune.add_argument("--max-seq-length", type=int, default=defaults.max_seq_length)
    tune.add_argument("--no-mask-prompt", action="store_true", help="learn the prompt tokens too")
    tune.add_argument(
        "--prompt",
        choices=("zero-shot", "few-shot"),
        default=defaults.prompt,
        help=f"the prompt trained on and served with the adapter ({defaults.prompt}: without the worked examples)",
    )
    tune.add_argument(
        "--max-minutes",
        type=float,
        help="stop training after this long (loading and scoring not counted; the adapter so far is kept)",
    )
    tune.add_argument("--eval-limit", type=int, help="score on the first N held-out examples (default: all)")
    tune.add_argument("--max-tokens", type=int, help="cap below the system's max_output_tokens when scoring")
    tune.add_argument(
        "--min-gain", type=float, default=0.0, help="adopt only when held-out F1 improves by more than this (0)"
    )
    tune.set_defaults(handler=lambda args: handle(run_tune, args))


def _settings(args: argparse.Namespace) -> Any:
    from edge_worker.tuning.train import TuneSettings

    for name in ("iters", "rank", "num_layers", "batch_size", "max_seq_length"):
        if getattr(args, name) <= 0:
            raise CliError(f"--{name.replace('_', '-')} must be positive")
    if args.learning_rate <= 0 or args.scale <= 0:
        raise CliError("--learning-rate and --scale must be positive")
    if args.eval_limit is not None and args.eval_limit <= 0:
        raise CliError("--eval-limit must be positive")
    if args.max_minutes is not None and not (math.isfinite(args.max_minutes) and args.max_minutes > 0):
        raise CliError("--max-minutes must be a positive number")
    check_generation_options(args)
    return TuneSettings(
        iters=args.iters,
        rank=args.rank,
        num_layers=args.num_layers,
        scale=args.scale,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        max_seq_length=args.max_seq_length,
        mask_prompt=not args.no_mask_prompt,
        prompt=args.prompt,
    )


def _system(args: argparse.Namespace) -> Any:
    loaded = load_systems_or_fail(args.systems_dir)
    broken_definition(loaded, args.system)
    if args.system not in loaded.systems:
        raise CliError(f"unknown system {args.system!r} (known: {', '.join(sorted(loaded.systems)) or 'none'})")
    return loaded.systems[args.system]


def register_adapter(version: str, content: dict[str, Any]) -> str:
    """Send the translator-adapter registry entry to the cloud; a sentence saying what happened."""
    from edge_worker.api_client import ApiRejected, ApiUnavailable, EdgeApi
    from edge_worker.cli_distill import api_settings
    from edge_worker.config import ConfigError
    from edge_worker.model_store import ADAPTER_KIND
    from schemas.edge_api import RegistryUpload

    later = "it is sent with the first record translated with it"
    try:
        url, token = api_settings()
    except ConfigError as error:
        return f"not registered in the cloud now ({error}); {later}"
    try:
        stored = EdgeApi(url, token).put_registry(version, RegistryUpload(kind=ADAPTER_KIND, content=content))
    except (ApiUnavailable, ApiRejected) as error:
        return f"not registered in the cloud now ({error}); {later}"
    return f"registered {stored.version_id} in the cloud registry"


def forget_deleted_summaries() -> None:
    """Drop distilled rows of summaries deleted in the cloud before they are trained on; says so when the cloud
    cannot be asked (the daemon drops them on its next reconcile pass)."""
    from edge_worker.api_client import ApiRejected, ApiUnavailable, EdgeApi
    from edge_worker.cli_distill import _report_forgotten, api_settings
    from edge_worker.config import ConfigError
    from edge_worker.distill import forget_deleted
    from edge_worker.tuning.data import distilled_systems

    if not distilled_systems():
        return
    try:
        _report_forgotten(forget_deleted(EdgeApi(*api_settings())))
    except (ConfigError, ApiUnavailable, ApiRejected) as error:
        _progress(f"distilled rows not checked against deletions in the cloud ({error})")


def run_tune(args: argparse.Namespace) -> int:
    from edge_worker import model_store
    from edge_worker.translator import Translator, for_this_device
    from edge_worker.tuning.data import DistilledDataError, training_examples
    from edge_worker.tuning.tune import tune_system

    settings = _settings(args)
    system = _system(args)
    forget_deleted_summaries()
    training_examples(system)  # a broken distilled.jsonl is named before the model loads
    ref = model_ref(args)
    _progress(f"loading model {ref}")
    model, tokenizer, info = model_store.load_model(ref)
    translator = Translator(for_this_device(model), tokenizer, info, max_tokens=args.max_tokens)
    try:
        result = tune_system(
            translator,
            system,
            settings,
            eval_limit=args.eval_limit,
            min_gain=args.min_gain,
            progress=_progress,
            train_budget=args.max_minutes * 60 if args.max_minutes else None,
        )
    except DistilledDataError:
        raise
    except ValueError as error:
        raise CliError(str(error)) from None
    print(result.message)
    if result.adopted and result.version:
        _progress(f"stored under {model_store.adapter_dir(result.version)}")
        print(register_adapter(result.version, result.entry))
    return 0
