"""Every environment variable the functions read, in one place (template.yaml sets them)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    sessions_table: str
    records_table: str
    history_table: str
    registry_table: str
    usage_table: str
    tokens_table: str
    refresh_table: str
    data_bucket: str
    summarize_queue_url: str
    edge_queue_url: str
    max_session_bytes: int
    max_turns: int
    refresh_window_seconds: int
    idempotency_table: str
    connections_table: str
    summarize_max_attempts: int
    embeddings_table: str
    query_embeddings_table: str
    query_queue_url: str
    search_edge_wait_seconds: float
    edge_online_seconds: int

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            sessions_table=env.get("SESSIONS_TABLE", ""),
            records_table=env.get("RECORDS_TABLE", ""),
            history_table=env.get("HISTORY_TABLE", ""),
            registry_table=env.get("REGISTRY_TABLE", ""),
            usage_table=env.get("USAGE_TABLE", ""),
            tokens_table=env.get("TOKENS_TABLE", ""),
            refresh_table=env.get("REFRESH_TABLE", ""),
            data_bucket=env.get("DATA_BUCKET", ""),
            summarize_queue_url=env.get("SUMMARIZE_QUEUE_URL", ""),
            edge_queue_url=env.get("EDGE_QUEUE_URL", ""),
            max_session_bytes=int(env.get("MAX_SESSION_BYTES", 1_048_576)),
            max_turns=int(env.get("MAX_TURNS", 500)),
            refresh_window_seconds=int(env.get("REFRESH_WINDOW_SECONDS", 300)),
            idempotency_table=env.get("IDEMPOTENCY_TABLE", ""),
            connections_table=env.get("CONNECTIONS_TABLE", ""),
            summarize_max_attempts=int(env.get("SUMMARIZE_MAX_ATTEMPTS", 3)),
            embeddings_table=env.get("EMBEDDINGS_TABLE", ""),
            query_embeddings_table=env.get("QUERY_EMBEDDINGS_TABLE", ""),
            query_queue_url=env.get("QUERY_QUEUE_URL", ""),
            search_edge_wait_seconds=float(env.get("SEARCH_EDGE_WAIT_SECONDS", 6)),
            edge_online_seconds=int(env.get("EDGE_ONLINE_SECONDS", 180)),
        )
