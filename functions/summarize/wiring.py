"""The summarize side's objects, built once per Lambda environment and shared by its handlers."""

from __future__ import annotations

from functions.common.queues import Queues
from functions.common.registry_store import RegistryStore
from functions.common.session_store import SessionStore
from functions.common.settings import Settings
from functions.common.usage_store import UsageStore
from functions.summarize.service import SummarizeService

_summarizer = None


def summarizer():
    """Built on first use: `anthropic` is imported and the API key read only when a summary is needed."""
    global _summarizer
    if _summarizer is None:
        from functions.summarize.providers import summarizer_from_env

        _summarizer = summarizer_from_env()
    return _summarizer


def summarize_service(settings: Settings, max_attempts: int) -> SummarizeService:
    return SummarizeService(
        store=SessionStore(settings.sessions_table, settings.data_bucket),
        registry=RegistryStore(settings.registry_table),
        usage=UsageStore(settings.usage_table),
        queues=Queues(settings.summarize_queue_url, settings.edge_queue_url),
        max_attempts=max_attempts,
    )
