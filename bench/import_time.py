"""Cold import time of each handler: `python -X importtime` in a fresh process with the function's environment."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.progress import progress
from local_stack.stack import LocalStack

ROOT = Path(__file__).resolve().parents[1]
TOP = 5


def _parse(stderr: str) -> list[tuple[int, int, str]]:
    """(self us, cumulative us, module) per `import time:` line."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|", 2)
        rows.append((int(self_us), int(cumulative_us), name.strip()))
    return rows


def _import_rows(code: str, environment: dict[str, str]) -> list[tuple[int, int, str]]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{code!r} failed: {result.stderr.strip().splitlines()[-1:]}")
    return _parse(result.stderr)


def measure(module: str, environment: dict[str, str], startup: set[str]) -> dict[str, Any]:
    """Import cost beyond interpreter start-up (`startup`: what a bare `python -c pass` imports)."""
    rows = [row for row in _import_rows(f"import {module}", environment) if row[2] not in startup]
    by_package: dict[str, int] = defaultdict(int)
    for self_us, _, name in rows:
        by_package[name.split(".")[0]] += self_us
    top = sorted(by_package.items(), key=lambda item: item[1], reverse=True)[:TOP]
    names = {name for _, _, name in rows}
    return {
        "total_ms": round(sum(self_us for self_us, _, _ in rows) / 1000, 1),
        "top": [(package, round(us / 1000, 1)) for package, us in top],
        "anthropic": any(name == "anthropic" or name.startswith("anthropic.") for name in names),
        "mlx": any(name == "mlx" or name.startswith("mlx.") for name in names),
        "modules": len(rows),
    }


def measure_all(stack: LocalStack, runs: int) -> list[dict[str, Any]]:
    """The median run (by total) per template function."""
    results: list[dict[str, Any]] = []
    startup: set[str] | None = None
    for name, function in stack.app.functions.items():
        module = function["Handler"].rsplit(".", 1)[0]
        progress(f"import time: {name} ({runs} run(s))")
        environment = {"PATH": "/usr/bin:/bin", **stack.function_environment(name)}
        if startup is None:
            startup = {row[2] for row in _import_rows("pass", environment)}
        measured = sorted((measure(module, environment, startup) for _ in range(runs)), key=lambda r: r["total_ms"])
        results.append({"function": name, "module": module, **measured[len(measured) // 2]})
    return results
