"""One local stack per data folder: a second `up` on the same `$SSP_HOME` would rewrite the edge's settings and
overwrite the first one's saved data with its own."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from edge_worker.config import open_private, private_dir

LOCK_FILE = "up.lock"


class DataInUse(RuntimeError):
    """Another running stack holds the folder; `pid` is its process id (None if it could not be read)."""

    def __init__(self, folder: Path, pid: int | None) -> None:
        holder = f"pid {pid}" if pid else "another process"
        super().__init__(
            f"another local stack ({holder}) is running on the data in {folder}. Stop it first, or give this one "
            "its own data folder with SSP_HOME=/some/other/folder"
        )
        self.pid = pid


@contextlib.contextmanager
def data_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (created if missing) while the block runs; the lock file keeps the
    holder's pid. Raises DataInUse at once if another process holds it. The OS frees the lock if the holder dies."""
    private_dir(folder)
    with open_private(folder / LOCK_FILE, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            text = handle.read().strip()
            raise DataInUse(folder, int(text) if text.isdigit() else None) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
