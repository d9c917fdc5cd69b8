"""The machine a run happened on: absolute times mean nothing without it."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

PACKAGES = ("mlx", "mlx-lm", "llguidance", "numpy", "moto", "boto3", "outlines", "outlines-core", "matplotlib")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": _cores(),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": sys.version.split()[0],
        "packages": {name: _version(name) for name in PACKAGES},
    }


def one_line(machine: dict[str, Any]) -> str:
    packages = machine["packages"]
    return (
        f"{machine['cpu']}, {machine['cores']} cores, {machine['platform']}, Python {machine['python']}, "
        f"mlx {packages['mlx']}, mlx-lm {packages['mlx-lm']}"
    )
