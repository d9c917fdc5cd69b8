"""`translate` and `eval` subcommands: run the local translator from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


class CliError(Exception):
    """Bad input: printed on stderr, exit status 2."""


class RecordError(Exception):
    """The run finished but its results could not be kept: printed on stderr, exit status 1."""


def register(subparsers: Any) -> None:
    """Add the subcommands to an argparse subparsers object; each sets `handler(args) -> int`."""
    translate = subparsers.add_parser("translate", help="translate one summary into JSON for each system")
    translate.add_argument("summary", nargs="?", default="-", help="file with the summary text, or - for stdin")
    translate.add_argument("--summary-id", default="cli", help="id recorded in the output (default: cli)")
    _common(translate)
    translate.set_defaults(handler=lambda args: handle(run_translate, args))

    evaluate = subparsers.add_parser("eval", help="score the model on the systems' labelled examples")
    evaluate.add_argument(
        "--split", choices=["eval", "train", "prompt"], default="eval", help="examples to score (default: eval)"
    )
    evaluate.add_argument("--zero-shot", action="store_true", help="prompt without the worked examples")
    evaluate.add_argument("--limit", type=int, help="score at most N examples per system")
    evaluate.add_argument("--json", dest="json_out", type=Path, help="also write the results as JSON here")
    evaluate.add_argument(
        "--record",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep the results in the registry as eval-result entries (default: when the API is configured)",
    )
    _common(evaluate)
    evaluate.set_defaults(handler=lambda args: handle(run_eval, args))


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--system", action="append", dest="systems", metavar="NAME", help="system to use (repeatable; default: all)"
    )
    parser.add_argument("--systems-dir", type=Path, help="folder of system definitions (default: shipped ones)")
    parser.add_argument("--model", help="model folder or reference (default: the prepared SmolLM2 model)")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 means greedy (default)")
    parser.add_argument("--max-tokens", type=int, help="cap below each system's max_output_tokens")


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _systems(args: argparse.Namespace) -> list[Any]:
    from schemas.system_definition import load_systems

    loaded = load_systems(args.systems_dir) if args.systems_dir else load_systems()
    for error in loaded.errors:
        _progress(f"warning: skipped {error}")
    if not args.systems:
        if not loaded.systems:
            raise CliError("no usable system definitions found")
        return list(loaded.systems.values())
    unknown = [name for name in args.systems if name not in loaded.systems]
    if unknown:
        raise CliError(f"unknown system(s): {', '.join(unknown)} (known: {', '.join(sorted(loaded.systems))})")
    return [loaded.systems[name] for name in args.systems]


def _translator(args: argparse.Namespace) -> Any:
    from edge_worker import model_store
    from edge_worker.translator import Translator, for_this_device, prefix_cache_dir

    if args.max_tokens is not None and args.max_tokens <= 0:
        raise CliError("--max-tokens must be positive")
    if args.temperature < 0:
        raise CliError("--temperature must not be negative")
    ref = args.model or str(model_store.prepare_default_model())
    _progress(f"loading model {ref}")
    model, tokenizer, info = model_store.load_model(ref)
    return Translator(
        for_this_device(model),
        tokenizer,
        info,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        prefix_cache_dir=prefix_cache_dir(),
    )


def _read_summary(source: str) -> str:
    if source == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read summary file {source}: {exc}") from None
    if not text.strip():
        raise CliError("the summary is empty")
    return text


def run_translate(args: argparse.Namespace) -> int:
    from edge_worker.translator import TranslationFailure

    summary = _read_summary(args.summary)
    systems = _systems(args)
    translator = _translator(args)
    _progress(f"translating for {len(systems)} system(s)")
    failed = 0
    for translation in translator.translate(args.summary_id, summary, systems):
        if isinstance(translation, TranslationFailure):
            print(f"error: {translation.error}", file=sys.stderr)
            failed += 1
            continue
        _progress(
            f"{translation.system}: {translation.stats.generated_tokens} tokens in {translation.stats.seconds:.1f} s"
        )
        print(translation.model_dump_json(), flush=True)
    return 1 if failed else 0


def run_eval(args: argparse.Namespace) -> int:
    from edge_worker.evaluate import evaluate_system, render_markdown

    if args.limit is not None and args.limit <= 0:
        raise CliError("--limit must be positive")
    systems = _systems(args)
    empty = [system.name for system in systems if not system.examples_for(args.split)]
    if empty:
        raise CliError(f"no example in the {args.split!r} split of: {', '.join(empty)}")
    api = _registry_api(args.record)
    translator = _translator(args)
    results = [
        evaluate_system(
            translator, system, split=args.split, zero_shot_prompt=args.zero_shot, limit=args.limit, progress=_progress
        )
        for system in systems
    ]
    print(render_markdown(results), end="")
    if args.json_out:
        args.json_out.write_text(json.dumps([result.model_dump(mode="json") for result in results], indent=2) + "\n")
        _progress(f"wrote {args.json_out}")
    if api is not None:
        _record(api, results, required=bool(args.record))
    return 0


def _registry_api(record: bool | None) -> Any:
    """The API client results are recorded with: None when not asked (--no-record, or no API configured)."""
    from edge_worker.api_client import EdgeApi
    from edge_worker.config import ConfigError, api_token, load_config

    if record is False:
        return None
    try:
        return EdgeApi(load_config().api_url, api_token())
    except ConfigError as exc:
        if record:
            raise CliError(f"--record needs the API: {exc}") from None
        return None


def _record(api: Any, results: list[Any], *, required: bool) -> None:
    """Put each result in the registry; a failure is an error with --record, else a warning."""
    from edge_worker.api_client import ApiRejected, ApiUnavailable
    from edge_worker.evaluate import registry_upload

    for result in results:
        version_id, upload = registry_upload(result)
        try:
            api.put_registry(version_id, upload)
        except (ApiRejected, ApiUnavailable) as exc:
            if required:
                raise RecordError(f"the results were not recorded ({version_id}): {exc}") from None
            _progress(f"warning: the results were not recorded ({version_id}): {exc}")
            continue
        _progress(f"recorded {version_id}")


def handle(command: Any, args: argparse.Namespace) -> int:
    """Run a parsed subcommand, turning expected failures into a message and an exit status."""
    from edge_worker.constrained import ConstrainedGenerationError, UnsupportedSchemaError
    from edge_worker.model_store import ModelStoreError
    from edge_worker.prompting import PromptFormatError
    from edge_worker.translator import InvalidTranslationError

    try:
        return command(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (
        UnsupportedSchemaError,
        ConstrainedGenerationError,
        InvalidTranslationError,
        ModelStoreError,
        PromptFormatError,
        RecordError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
