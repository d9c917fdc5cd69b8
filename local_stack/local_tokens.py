"""Tokens for the local stack, kept in the state directory (mode 0600), never printed but in the dashboard link.

The same tokens serve every run while the local data is kept (their hashes are in the restored TokensTable), so a
dashboard tab opened before a restart keeps working; `--reset` makes new ones.
"""

from __future__ import annotations

import json
from pathlib import Path

from edge_worker.config import ssp_home, write_private
from functions.stores.tokens import TokenStore

SAMPLE_SOURCES = ("synapse", "planner", "nudge")


def state_dir() -> Path:
    """$SSP_HOME/local: the local stack's data, tokens and edge state."""
    return ssp_home() / "local"


def tokens_path() -> Path:
    return state_dir() / "tokens.json"


def _kept_tokens(store: TokenStore) -> dict[str, str] | None:
    """The tokens of the last run, if the tokens table still grants every one of them."""
    try:
        tokens = json.loads(tokens_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    wanted = {"dashboard", "edge", "admin", *(f"ingest-{source}" for source in SAMPLE_SOURCES)}
    if not isinstance(tokens, dict) or set(tokens) != wanted:
        return None
    return tokens if all(store.lookup(str(token)) for token in tokens.values()) else None


def local_tokens(tokens_table: str) -> tuple[dict[str, str], bool]:
    """(tokens by role, whether they are the previous run's): dashboard, edge, admin, and ingest-<source> for
    each sample source; written to tokens_path() (0600)."""
    store = TokenStore(tokens_table)
    kept = _kept_tokens(store)
    if kept:
        return kept, True
    tokens = {
        "dashboard": store.create("local-dashboard", ["read", "refresh", "edit"]),
        "edge": store.create("local-edge", ["edge"]),
        "admin": store.create("local-admin", ["admin"]),
        **{
            f"ingest-{source}": store.create(f"local-ingest-{source}", ["ingest"], source=source)
            for source in SAMPLE_SOURCES
        },
    }
    write_private(tokens_path(), json.dumps(tokens, indent=2))
    return tokens, False
