"""The systems the edge translates for: definition files, reloaded when the folders change (watchdog)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from watchdog.events import (
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from schemas.system_definition import (
    Check,
    SystemDefinition,
    SystemDefinitionError,
    check_llguidance_grammar,
    default_systems_dir,
    load_systems,
)

# What changes a definition; opened and closed-without-writing events are reads (the reload's own among them).
CHANGES: list[type[FileSystemEvent]] = [
    FileAttribEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileClosedEvent,
    FileDeletedEvent,
    FileMovedEvent,
]

Changed = Callable[[list[SystemDefinition], list[SystemDefinitionError]], None]
# What the edge checks a definition with, besides what every loader checks: the worker and `systems` alike.
EDGE_CHECKS: tuple[Check, ...] = (check_llguidance_grammar,)


def catalog_folders(extra: list[Path], shipped: bool = True) -> list[Path]:
    """The shipped definitions' folder (unless `shipped` is False), then the `extra` ones (SSP_SYSTEMS_DIRS,
    `systems_dirs`), each once."""
    folders: list[Path] = []
    for folder in [default_systems_dir(), *extra] if shipped else extra:
        if all(folder.resolve() != kept.resolve() for kept in folders):
            folders.append(Path(folder))
    return folders


def _shipped(definition: SystemDefinition) -> bool:
    return definition.source is not None and Path(definition.source).parent.resolve() == default_systems_dir().resolve()


class SystemCatalog:
    def __init__(self, folders: list[Path] | None = None) -> None:
        self.folders = [Path(f) for f in (folders or [default_systems_dir()])]
        self.systems: dict[str, SystemDefinition] = {}
        self.errors: list[SystemDefinitionError] = []
        self._lock = threading.Lock()
        self._observer: BaseObserver | None = None

    def reload(self) -> tuple[list[SystemDefinition], list[SystemDefinitionError]]:
        """Re-read every folder; returns definitions that are new or changed, and broken files. A name defined in
        two folders is an error, unless one is the shipped folder: the other folder's definition replaces it."""
        found: dict[str, SystemDefinition] = {}
        errors: list[SystemDefinitionError] = []
        for folder in self.folders:
            loaded = load_systems(folder, checks=EDGE_CHECKS)
            errors.extend(loaded.errors)
            for name, definition in loaded.systems.items():
                if name in found and _shipped(found[name]) and not _shipped(definition):
                    found[name] = definition
                    continue
                if name in found:
                    errors.append(
                        SystemDefinitionError(
                            definition.source or folder, f"system {name!r} is also defined in {found[name].source}"
                        )
                    )
                    continue
                found[name] = definition
        with self._lock:
            changed = [
                d
                for name, d in found.items()
                if name not in self.systems or self.systems[name].definition_version != d.definition_version
            ]
            self.systems, self.errors = found, errors
        return changed, errors

    def refuse(self, definition: SystemDefinition, problem: str) -> SystemDefinitionError:
        """Take `definition` out of the current systems as broken (until its files are read again); the error."""
        error = SystemDefinitionError(definition.source or Path(f"{definition.name}.json"), problem)
        with self._lock:
            if self.systems.get(definition.name) == definition:
                del self.systems[definition.name]
            self.errors = [*self.errors, error]
        return error

    def current(self) -> list[SystemDefinition]:
        with self._lock:
            return list(self.systems.values())

    def get(self, name: str) -> SystemDefinition | None:
        with self._lock:
            return self.systems.get(name)

    def watch(self, on_change: Changed, debounce_s: float = 0.3) -> None:
        catalog = self

        class Handler(FileSystemEventHandler):
            def __init__(self) -> None:
                self._timer: threading.Timer | None = None

            def on_any_event(self, event: FileSystemEvent) -> None:
                if not str(event.src_path).endswith(".json") and not str(getattr(event, "dest_path", "")).endswith(
                    ".json"
                ):
                    return
                if self._timer:
                    self._timer.cancel()
                self._timer = threading.Timer(debounce_s, lambda: on_change(*catalog.reload()))
                self._timer.daemon = True
                self._timer.start()

        self._observer = Observer()
        for folder in self.folders:
            folder.mkdir(parents=True, exist_ok=True)
            self._observer.schedule(Handler(), str(folder), recursive=False, event_filter=CHANGES)
        self._observer.daemon = True
        self._observer.start()

    def stop(self) -> None:
        if self._observer:
            self._observer.stop()
            self._observer.join(timeout=5)
