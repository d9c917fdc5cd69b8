"""CollectBatchesFunction's objects, built once per Lambda environment."""

from __future__ import annotations

from collections.abc import Mapping

from functions.collect_batches.collector import BatchCollector
from functions.settings import Settings
from functions.summarize.wiring import SERVICE_REQUIRES, lazy_summarizer, summarize_service


def build(environ: Mapping[str, str] | None = None) -> BatchCollector:
    settings = Settings(environ).require(*SERVICE_REQUIRES)
    summarizer = lazy_summarizer(settings)
    service = summarize_service(settings, summarizer, max_attempts=1)
    return BatchCollector(service.sessions, service, summarizer)
