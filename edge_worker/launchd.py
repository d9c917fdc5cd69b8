"""A launchd agent so the worker starts at login and restarts if it dies (macOS)."""

from __future__ import annotations

import plistlib
import subprocess
import sys
from pathlib import Path

LABEL = "dev.session-summary-pipeline.edge"


def plist_path() -> Path:
    return Path.home() / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def agent_plist(python: str = sys.executable) -> bytes:
    logs = Path.home() / "Library" / "Logs" / "session-summary-pipeline"
    return plistlib.dumps(
        {
            "Label": LABEL,
            "ProgramArguments": [python, "-m", "edge_worker", "run"],
            "RunAtLoad": True,
            "KeepAlive": {"SuccessfulExit": False},
            "ProcessType": "Background",
            "StandardOutPath": str(logs / "edge.log"),
            "StandardErrorPath": str(logs / "edge.log"),
        }
    )


def install() -> Path:
    path = plist_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    (Path.home() / "Library" / "Logs" / "session-summary-pipeline").mkdir(parents=True, exist_ok=True)
    path.write_bytes(agent_plist())
    subprocess.run(["launchctl", "load", "-w", str(path)], check=True)
    return path


def uninstall() -> bool:
    path = plist_path()
    if not path.exists():
        return False
    subprocess.run(["launchctl", "unload", "-w", str(path)], check=False)
    path.unlink()
    return True
