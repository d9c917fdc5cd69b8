"""IngestFunction's objects, built once per Lambda environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from functions.ingest.service import IngestService
from functions.queues import SummarizeQueue
from functions.settings import Settings
from functions.stores.sessions import SessionStore


@dataclass(frozen=True)
class Ingest:
    service: IngestService
    max_session_bytes: int


def build(environ: Mapping[str, str] | None = None) -> Ingest:
    settings = Settings(environ).require(Settings.sessions_table, Settings.data_bucket, Settings.summarize_queue_url)
    service = IngestService(
        SessionStore(settings.sessions_table, settings.data_bucket),
        SummarizeQueue(settings.summarize_queue_url),
        settings.max_turns,
    )
    return Ingest(service, settings.max_session_bytes)
