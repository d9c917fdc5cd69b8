"""The edge settings of a running local stack, written to $SSP_HOME/edge.json so `python -m edge_worker status`
(and every edge command) reaches it with no variables. The edge token goes to its own 0600 file, never edge.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from edge_worker.config import config_path, write_private
from local_stack.local_tokens import state_dir
from local_stack.provision import REGION

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def edge_token_path() -> Path:
    return state_dir() / "edge-token"


def edge_settings(stack: Any, model: str = "") -> dict[str, Any]:
    """The edge.json settings (edge_worker.config.EdgeConfig's fields) for `stack`, a started LocalStack."""
    settings: dict[str, Any] = {
        "api_url": stack.api_url,
        "queue_url": stack.resolved("EdgeQueue"),
        "backfill_queue_url": stack.resolved("BackfillQueue"),
        "query_queue_url": stack.resolved("QueryQueue"),
        "region": REGION,
        "endpoint_url": stack.moto.url,
        "state_dir": str(state_dir() / "edge"),
        "token_file": str(edge_token_path()),
        "wait_seconds": 5,
        "reconcile_seconds": 60,
    }
    if model:
        settings["model"] = model
    return settings


def written_by_local_stack(path: Path) -> bool:
    """Whether `path` is absent or points at a local stack (so it may be replaced): never overwrite the settings
    of a deployed stack."""
    try:
        current = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return True
    except (OSError, ValueError):
        return False
    endpoint = current.get("endpoint_url", "") if isinstance(current, dict) else ""
    return bool(endpoint) and urlsplit(endpoint).hostname in LOCAL_HOSTS


def write_edge_settings(settings: dict[str, Any], token: str, path: Path | None = None) -> Path | None:
    """Write `settings` to edge.json (default $SSP_HOME/edge.json) and `token` to its 0600 token file; returns
    the path, or None when edge.json holds a deployed stack's settings and was left alone."""
    path = path or config_path()
    write_private(Path(settings["token_file"]), token)
    if not written_by_local_stack(path):
        return None
    write_private(path, json.dumps(settings, indent=2) + "\n")
    return path
