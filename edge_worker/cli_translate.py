"""`translate` and `eval` subcommands: run the local translator from the command line."""

from __future__ import annotations

import argparse
import json
import math
import os
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
    translate.add_argument(
        "summary",
        nargs="?",
        default="-",
        help="UTF-8 file with the summary text; - or nothing reads it from standard input (end it with Ctrl-D)",
    )
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
    parser.add_argument("--model", help=MODEL_HELP)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 means greedy (default)")
    parser.add_argument("--max-tokens", type=int, help="cap below each system's max_output_tokens")


MODEL_HELP = "model folder or Hugging Face id (default: the worker's: $SSP_MODEL, edge.json's model, else SmolLM2)"


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _systems(args: argparse.Namespace) -> list[Any]:
    loaded = load_systems_or_fail(args.systems_dir)
    for error in loaded.errors:
        _progress(f"warning: skipped {error}")
    if not args.systems:
        if not loaded.systems:
            raise CliError("no usable system definitions found")
        return list(loaded.systems.values())
    for name in args.systems:
        broken_definition(loaded, name)
    unknown = [name for name in args.systems if name not in loaded.systems]
    if unknown:
        raise CliError(f"unknown system(s): {', '.join(unknown)} (known: {', '.join(sorted(loaded.systems))})")
    return [loaded.systems[name] for name in args.systems]


def load_systems_or_fail(folder: Path | None) -> Any:
    """load_systems(folder) (the shipped ones when None); CliError when `folder` is not a folder."""
    from schemas.system_definition import load_systems

    if folder is None:
        return load_systems()
    if not folder.is_dir():
        raise CliError(f"--systems-dir {folder}: {'not a folder' if folder.exists() else 'no such folder'}")
    return load_systems(folder)


def broken_definition(loaded: Any, name: str) -> None:
    """Raise CliError with the definition's own error when system `name` is missing because its file is broken."""
    if name in loaded.systems:
        return
    for error in loaded.errors:
        if getattr(error, "path", Path()).stem == name:
            raise CliError(f"system {name!r} is not usable: {error}")


def model_ref(args: argparse.Namespace) -> str:
    """--model, else the model the worker runs (config.model_setting), else the prepared default model's folder."""
    from edge_worker import model_store
    from edge_worker.config import ConfigError, model_setting

    if args.model:
        return str(args.model)
    try:
        configured = model_setting()
    except ConfigError as exc:
        raise CliError(f"{exc} (or pass --model)") from None
    return configured or str(model_store.prepare_default_model())


def check_generation_options(args: argparse.Namespace) -> None:
    """CliError for a --max-tokens that is not positive or a --temperature that is negative or not finite."""
    if args.max_tokens is not None and args.max_tokens <= 0:
        raise CliError("--max-tokens must be positive")
    temperature = getattr(args, "temperature", 0.0)
    if not math.isfinite(temperature) or temperature < 0:
        raise CliError("--temperature must be a finite number, not negative")


def _translator(args: argparse.Namespace) -> Any:
    from edge_worker import model_store
    from edge_worker.translator import Translator, for_this_device, prefix_cache_dir

    check_generation_options(args)
    ref = model_ref(args)
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
        text = _read_stdin()
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read summary file {source}: {exc}") from None
    if not text.strip():
        raise CliError("the summary is empty")
    return text


def _read_stdin() -> str:
    """Standard input as UTF-8 text; CliError when it is closed, unreadable or not UTF-8."""
    stream = sys.stdin
    if stream is None or stream.closed:
        raise CliError("standard input is closed: pass the summary file, or pipe the summary in")
    if stream.isatty():
        _progress("reading the summary from the terminal; end it with Ctrl-D (or pass a file)")
    try:
        data = stream.buffer.read() if hasattr(stream, "buffer") else stream.read().encode("utf-8")
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CliError(
            f"cannot decode the summary on standard input as UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    except OSError as exc:
        raise CliError(f"cannot read the summary from standard input: {exc.strerror or exc}") from None


def check_output_file(path: Path, option: str) -> None:
    """CliError when `path` cannot be written: a directory, a missing folder, or no write permission."""
    if path.is_dir():
        raise CliError(f"{option} {path}: is a directory")
    folder = path.parent
    if not folder.is_dir():
        raise CliError(f"{option} {path}: folder {folder} does not exist")
    if not os.access(path if path.exists() else folder, os.W_OK):
        raise CliError(f"{option} {path}: not writable")


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
    if args.json_out:
        check_output_file(args.json_out, "--json")
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
    written = True
    if args.json_out:
        try:
            args.json_out.write_text(
                json.dumps([result.model_dump(mode="json") for result in results], indent=2) + "\n"
            )
            _progress(f"wrote {args.json_out}")
        except OSError as exc:  # after the run: said now, and the results are still recorded below
            print(f"error: cannot write {args.json_out}: {exc.strerror or exc}", file=sys.stderr)
            written = False
    if api is not None:
        _record(api, results, required=bool(args.record))
    return 0 if written else 1


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
    from edge_worker.tuning.data import DistilledDataError

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
        DistilledDataError,
        RecordError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
