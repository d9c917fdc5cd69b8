"""A launchd agent so the worker starts at login and restarts if it dies (macOS)."""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from edge_worker.config import (
    BLAS_VARIABLE,
    ENVIRONMENT,
    HOME_VARIABLE,
    PRIVATE_UMASK,
    private_dir,
    ssp_home,
    write_private,
)

LABEL = "dev.session-summary-pipeline.edge"
PASSED_VARIABLES = (BLAS_VARIABLE, *ENVIRONMENT.values())  # never the API token


def plist_path() -> Path:
    return Path.home() / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def logs_dir() -> Path:
    return Path.home() / "Library" / "Logs" / "session-summary-pipeline"


def agent_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The worker's settings from the environment, for the agent: SSP_HOME (absolute) and each SSP_* setting set."""
    env = os.environ if environ is None else environ
    passed = {HOME_VARIABLE: str(ssp_home(env).resolve())}
    passed |= {name: env[name] for name in PASSED_VARIABLES if env.get(name)}
    return passed


def agent_plist(python: str = sys.executable, environ: Mapping[str, str] | None = None) -> bytes:
    """The agent's plist: runs `python -m edge_worker run` with agent_environment(environ)."""
    logs = logs_dir()
    return plistlib.dumps(
        {
            "Label": LABEL,
            "ProgramArguments": [python, "-m", "edge_worker", "run"],
            "EnvironmentVariables": agent_environment(environ),
            "RunAtLoad": True,
            "KeepAlive": {"SuccessfulExit": False},
            "ProcessType": "Background",
            "Umask": PRIVATE_UMASK,  # the worker's files (outbox, caches, its log) are the user's only
            "StandardOutPath": str(logs / "edge.log"),
            "StandardErrorPath": str(logs / "edge.log"),
        }
    )


def install() -> Path:
    path = plist_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    private_dir(logs_dir())
    write_private(path, agent_plist())
    subprocess.run(["launchctl", "load", "-w", str(path)], check=True)
    return path


def uninstall() -> bool:
    path = plist_path()
    if not path.exists():
        return False
    subprocess.run(["launchctl", "unload", "-w", str(path)], check=False)
    path.unlink()
    return True
