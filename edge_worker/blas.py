"""An optimized BLAS for MLX's CPU build on Linux.

The mlx-cpu wheel links the reference BLAS (netlib): every float32 matmul runs at about 4 GFLOP/s whatever
its shape, so a k-token forward pass costs about k single-token steps and batching gains little. Loading
OpenBLAS with RTLD_GLOBAL before `mlx.core` is imported makes the dynamic linker bind MLX's `cblas_*` calls to
it instead (global scope is searched before a library's own dependencies). Apple builds use Accelerate and
Metal, and are left alone.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

from edge_worker.config import BLAS_VARIABLE

CANDIDATES = (  # Debian's libopenblas0-pthread and libopenblas0-openmp (`make blas` installs the first)
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3",
    "/usr/lib/aarch64-linux-gnu/openblas-pthread/libblas.so.3",
    "/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3",
)

loaded: str | None = None


def use_optimized_blas() -> str | None:
    """Load the BLAS MLX should use here, once; returns its path, or None (not Linux, none found, or too late).

    Too late: `mlx.core` was imported before this ran, and its BLAS symbols are already bound.
    """
    global loaded
    if loaded or not sys.platform.startswith("linux") or "mlx.core" in sys.modules:
        return loaded
    choice = os.environ.get(BLAS_VARIABLE, "")
    if choice.lower() == "none":
        return None
    for path in [choice] if choice else CANDIDATES:
        if path and Path(path).is_file():
            try:
                ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            except OSError as exc:
                if path == choice:
                    _warn_once(f"warning: {BLAS_VARIABLE}={choice} cannot be loaded ({exc}); MLX uses its own BLAS")
                continue
            loaded = path
            return path
    if choice:
        _warn_once(f"warning: {BLAS_VARIABLE}={choice} is not a file; MLX uses its own BLAS")
    return None


_warned = False


def _warn_once(message: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        print(message, file=sys.stderr)
