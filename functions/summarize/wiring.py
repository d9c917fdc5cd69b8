"""SummarizeFunction's objects, built once per Lambda environment (CollectBatchesFunction shares the service)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

from functions.queues import EdgeQueue
from functions.settings import Settings
from functions.stores.registry import RegistryStore
from functions.stores.sessions import SessionStore
from functions.stores.usage import UsageStore
from functions.summarize.batch import BatchSubmitter
from functions.summarize.providers import summarizer_for
from functions.summarize.service import SummarizeService
from functions.summarize.summarizer import Summarizer

SERVICE_REQUIRES = (
    Settings.sessions_table,
    Settings.data_bucket,
    Settings.registry_table,
    Settings.usage_table,
    Settings.edge_queue_url,
    Settings.summarizer_model_id,
)


def lazy_summarizer(settings: Settings) -> Callable[[], Summarizer]:
    """The summarizer, built on first use (it may read the API key from SSM) and kept."""

    @cache
    def summarizer() -> Summarizer:
        return summarizer_for(settings)

    return summarizer


def summarize_service(settings: Settings, summarizer: Callable[[], Summarizer], max_attempts: int) -> SummarizeService:
    return SummarizeService(
        sessions=SessionStore(settings.sessions_table, settings.data_bucket),
        registry=RegistryStore(settings.registry_table),
        usage=UsageStore(settings.usage_table),
        edge_queue=EdgeQueue(settings.edge_queue_url),
        summarizer=summarizer,
        max_attempts=max_attempts,
    )


@dataclass(frozen=True)
class Summarize:
    service: SummarizeService
    submitter: BatchSubmitter
    mode: str  # realtime or batch
    idempotency_table: str


def build(environ: Mapping[str, str] | None = None) -> Summarize:
    settings = Settings(environ).require(*SERVICE_REQUIRES, Settings.idempotency_table)
    summarizer = lazy_summarizer(settings)
    service = summarize_service(settings, summarizer, settings.summarize_max_attempts)
    submitter = BatchSubmitter(service.sessions, summarizer, max_attempts=service.max_attempts)
    return Summarize(service, submitter, settings.summarizer_mode, settings.idempotency_table)
