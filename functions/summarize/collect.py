"""Scheduled handler: record the results of ended Message Batches (SummarizerMode=batch)."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from functions.common.settings import Settings
from functions.summarize.batch import BatchCollector
from functions.summarize.wiring import summarize_service, summarizer

settings = Settings.from_env()
logger = Logger()
service = summarize_service(settings, max_attempts=1)
collector = BatchCollector(service.store, service, summarizer)


@logger.inject_lambda_context
def lambda_handler(event: dict, context) -> dict:
    return collector.collect(context.get_remaining_time_in_millis)
