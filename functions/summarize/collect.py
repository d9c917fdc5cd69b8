"""Scheduled handler: record the results of ended Message Batches (SummarizerMode=batch)."""
from __future__ import annotations

from aws_lambda_powertools import Logger

from functions.common.queues import Queues
from functions.common.registry_store import RegistryStore
from functions.common.session_store import SessionStore
from functions.common.settings import Settings
from functions.common.usage_store import UsageStore
from functions.summarize.batch import BatchCollector
from functions.summarize.service import SummarizeService

settings = Settings.from_env()
logger = Logger()
store = SessionStore(settings.sessions_table, settings.data_bucket)
service = SummarizeService(
    store=store, registry=RegistryStore(settings.registry_table), usage=UsageStore(settings.usage_table),
    queues=Queues(settings.summarize_queue_url, settings.edge_queue_url), max_attempts=1)
_summarizer = None


def summarizer():
    """Built on first use, so a run with no pending batch never reads the API key."""
    global _summarizer
    if _summarizer is None:
        from functions.summarize.providers import summarizer_from_env
        _summarizer = summarizer_from_env()
    return _summarizer


collector = BatchCollector(store, service, lambda: summarizer())


@logger.inject_lambda_context
def lambda_handler(event: dict, context) -> dict:
    return collector.collect(context.get_remaining_time_in_millis)
