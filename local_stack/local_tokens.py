"""Tokens for the local stack, kept in the state directory (mode 0600), never printed."""

from __future__ import annotations

import json
import os
from pathlib import Path

from edge_worker.config import ssp_home
from functions.stores.tokens import TokenStore

SAMPLE_SOURCES = ("synapse", "planner", "nudge")


def state_dir() -> Path:
    return ssp_home() / "local"


def issue_local_tokens(tokens_table: str) -> dict[str, str]:
    store = TokenStore(tokens_table)
    tokens = {
        "dashboard": store.create("local-dashboard", ["read", "refresh", "edit"]),
        "edge": store.create("local-edge", ["edge"]),
        "admin": store.create("local-admin", ["admin"]),
        **{
            f"ingest-{source}": store.create(f"local-ingest-{source}", ["ingest"], source=source)
            for source in SAMPLE_SOURCES
        },
    }
    path = state_dir() / "tokens.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(tokens, fh, indent=2)
    return tokens


def tokens_path() -> Path:
    return state_dir() / "tokens.json"
