"""`ssp-edge` / `python -m edge_worker.cli`: the edge worker's command line.

Subcommands are added by `register(subparsers)` functions. Besides the ones here, every module
`edge_worker/cli_<name>.py` that defines `register(subparsers)` is picked up; each subcommand sets
`handler=<function(args) -> int>` with `set_defaults`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edge_worker.config import PRIVATE_UMASK
from schemas.stdout_pipe import quiet_when_reader_leaves

Register = Callable[[argparse._SubParsersAction], None]


def _fail(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _prepare_model(args: argparse.Namespace) -> int:
    from edge_worker.gguf_import import GGUFImportError
    from edge_worker.model_store import ModelStoreError, prepare_default_model

    try:
        folder = prepare_default_model()
    except (ModelStoreError, GGUFImportError, OSError) as exc:
        return _fail(str(exc))
    print(folder)
    return 0


def _import_gguf(args: argparse.Namespace) -> int:
    import mlx.core as mx

    from edge_worker.gguf_import import GGUFImportError, import_gguf

    dtype = None if args.dtype == "auto" else getattr(mx, args.dtype)
    try:
        folder = import_gguf(args.src, args.dest, overwrite=args.overwrite, dtype=dtype)
    except (GGUFImportError, OSError) as exc:
        return _fail(str(exc))
    print(folder)
    return 0


def _systems(args: argparse.Namespace) -> int:
    from edge_worker.catalog import SystemCatalog, catalog_folders

    folders = [args.dir] if args.dir else catalog_folders(*_configured_systems_dirs())
    catalog = SystemCatalog(folders)
    _, errors = catalog.reload()
    for definition in sorted(catalog.current(), key=lambda d: d.name):
        label = definition.version or "-"
        print(
            f"{definition.name}\tversion={label}\t{definition.definition_version}\t{definition.schema_version}"
            f"\texamples={len(definition.examples)}\tmax_output_tokens={definition.max_output_tokens}"
            f"\t{definition.source}"
        )
    for error in errors:
        print(f"broken: {error}", file=sys.stderr)
    if errors:
        return _fail(f"{len(errors)} broken system definition(s)")
    if not catalog.current():
        return _fail(f"no system definitions in {', '.join(map(str, folders))}")
    return 0


def _retire_system(args: argparse.Namespace) -> int:
    from edge_worker.api_client import ApiRejected, ApiUnavailable, EdgeApi
    from edge_worker.catalog import SystemCatalog, catalog_folders
    from edge_worker.cli_distill import api_settings
    from edge_worker.config import ConfigError

    catalog = SystemCatalog(catalog_folders(*_configured_systems_dirs()))
    catalog.reload()
    held = catalog.get(args.name)
    if held is not None:  # a running worker would publish it again
        return _fail(f"system {args.name!r} is still defined in {held.source}: remove that file first", 2)
    try:
        retired = EdgeApi(*api_settings()).retire_system(args.name)
    except ConfigError as exc:
        return _fail(str(exc), 2)
    except (ApiRejected, ApiUnavailable) as exc:
        return _fail(f"retiring {args.name}: {exc}")
    print(f"system {retired.name} retired ({retired.definition_version}); its records stay readable in each session")
    return 0


def _configured_systems_dirs() -> tuple[list[Path], bool]:
    """The worker's extra definition folders and whether it also loads the shipped ones (SSP_SYSTEMS_DIRS and
    SSP_SHIPPED_SYSTEMS, or `systems_dirs` and `shipped_systems` in the edge settings)."""
    from edge_worker.config import ConfigError, config_path, load_config

    try:
        config = load_config()
        return config.systems_dirs, config.shipped_systems
    except ConfigError as exc:  # settings incomplete (no API URL yet): the environment still names the folders
        if config_path().exists():
            print(f"note: {exc}", file=sys.stderr)
        folders = [Path(folder) for folder in os.environ.get("SSP_SYSTEMS_DIRS", "").split(os.pathsep) if folder]
        return folders, os.environ.get("SSP_SHIPPED_SYSTEMS", "true").lower() not in ("0", "false", "no")


def register_model_commands(subparsers: argparse._SubParsersAction) -> None:
    prepare = subparsers.add_parser("prepare-model", help="download and import the default local model")
    prepare.set_defaults(handler=_prepare_model)

    gguf = subparsers.add_parser("import-gguf", help="turn a llama GGUF file into an MLX model folder")
    gguf.add_argument("src", type=Path, help="GGUF file (Q4_0, Q4_1, Q8_0, F16 or F32 tensors)")
    gguf.add_argument("dest", type=Path, help="folder to create")
    gguf.add_argument("--overwrite", action="store_true", help="replace DEST if it exists")
    gguf.add_argument(
        "--dtype",
        choices=("auto", "float16", "float32"),
        default="auto",
        help="type of scales, biases and norms (auto: float16 with Metal, float32 on CPU)",
    )
    gguf.set_defaults(handler=_import_gguf)


def register_systems_command(subparsers: argparse._SubParsersAction) -> None:
    systems = subparsers.add_parser("systems", help="list system definitions and report broken ones")
    systems.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="definitions folder (default: the shipped one plus SSP_SYSTEMS_DIRS, as the worker loads them)",
    )
    systems.set_defaults(handler=_systems)
    retire = subparsers.add_parser(
        "retire-system", help="stop publishing a system whose definition file was removed (records stay)"
    )
    retire.add_argument("name", help="the system's name")
    retire.set_defaults(handler=_retire_system)


def discovered_registrars() -> list[Register]:
    """`register` of every `edge_worker.cli_*` module."""
    import edge_worker

    registrars = []
    for module in sorted(pkgutil.iter_modules(edge_worker.__path__), key=lambda info: info.name):
        if module.name.startswith("cli_"):
            loaded = importlib.import_module(f"edge_worker.{module.name}")
            if callable(getattr(loaded, "register", None)):
                registrars.append(loaded.register)
    return registrars


class _CommandParser(argparse.ArgumentParser):
    """Unrecognized arguments are reported with the usage of the command they were given to."""

    commands: Any = None  # the subparsers action

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            command = self.commands.choices.get(getattr(parsed, "command", None)) if self.commands else None
            (command or self).error(f"unrecognized arguments: {' '.join(extra)}")
        return parsed


def build_parser(registrars: Sequence[Register] | None = None) -> argparse.ArgumentParser:
    parser = _CommandParser(prog="ssp-edge", description="Session summary pipeline: edge worker")
    parser.commands = subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    if registrars is None:
        registrars = [register_model_commands, register_systems_command, *discovered_registrars()]
    for register in registrars:
        register(subparsers)
    return parser


@quiet_when_reader_leaves
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    previous = os.umask(PRIVATE_UMASK)  # models, caches, training data and adapters are the user's only
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    finally:
        os.umask(previous)


if __name__ == "__main__":
    sys.exit(main())
