"""ApiFunction's objects, built once per Lambda environment: the real stores and queues behind each service."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from functions.api.distill import Completer, DistillService, Once
from functions.api.edge_status import EdgeStatus
from functions.api.edge_sync import EdgeSync
from functions.api.embedding_sync import EmbeddingSync
from functions.api.reads import Reads
from functions.api.record_edits import RecordEdits
from functions.api.refresh import RefreshService
from functions.queues import BackfillQueue, EdgeQueue, QueryQueue
from functions.search.service import SearchService
from functions.settings import Settings
from functions.stores.changes import ChangeLog
from functions.stores.embeddings import EmbeddingStore, QueryEmbeddingStore
from functions.stores.idempotency import DISTILL_KEY_PREFIX, distill_idempotency_config
from functions.stores.index_file import IndexFile
from functions.stores.records import RecordStore
from functions.stores.refresh import RefreshStore
from functions.stores.registry import RegistryStore
from functions.stores.sessions import SessionStore
from functions.stores.usage import UsageStore

REQUIRED = (
    Settings.sessions_table,
    Settings.records_table,
    Settings.history_table,
    Settings.registry_table,
    Settings.usage_table,
    Settings.refresh_table,
    Settings.embeddings_table,
    Settings.query_embeddings_table,
    Settings.data_bucket,
    Settings.edge_queue_url,
    Settings.backfill_queue_url,
    Settings.query_queue_url,
    Settings.changes_table,
)


@dataclass(frozen=True)
class Api:
    reads: Reads
    search: SearchService
    refresh: RefreshService
    edge: EdgeSync
    embeddings: EmbeddingSync
    edits: RecordEdits
    edge_status: EdgeStatus
    distill: DistillService


def lazy_completer(settings: Settings) -> Callable[[], Completer]:
    """The summarizer's provider, built on first use (it imports anthropic and may read the API key from SSM)."""

    @cache
    def completer() -> Completer:
        from functions.summarize.providers import summarizer_for

        return summarizer_for(settings)

    return completer


def idempotent_once(settings: Settings) -> Once:
    """Each distillation key's call made once (Powertools idempotency on IDEMPOTENCY_TABLE, built on first use);
    a call for a key already in progress is a 409."""

    @cache
    def decorated() -> Callable[..., dict[str, Any]]:
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, idempotent_function

        @idempotent_function(
            data_keyword_argument="key",
            config=distill_idempotency_config(),
            persistence_store=DynamoDBPersistenceLayer(table_name=settings.idempotency_table),
            key_prefix=DISTILL_KEY_PREFIX,
        )
        def once(key: dict[str, str], call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
            return call()

        return once

    def run(key: dict[str, str], call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

        from functions.errors import ClientError

        try:
            return decorated()(key=key, call=call)
        except IdempotencyAlreadyInProgressError:
            raise ClientError("in_progress", "this distillation is being made by another request", status=409) from None

    return run


def build(environ: Mapping[str, str] | None = None) -> Api:
    settings = Settings(environ).require(*REQUIRED)
    sessions = SessionStore(settings.sessions_table, settings.data_bucket)
    changes = ChangeLog(settings.changes_table)
    records = RecordStore(settings.records_table, settings.history_table, settings.data_bucket, sessions, changes)
    registry = RegistryStore(settings.registry_table)
    query_embeddings = QueryEmbeddingStore(settings.query_embeddings_table)
    refresh = RefreshService(
        RefreshStore(settings.refresh_table),
        sessions,
        records,
        registry,
        EdgeQueue(settings.edge_queue_url),
        settings.refresh_window_seconds,
        BackfillQueue(settings.backfill_queue_url),
    )
    edge_status = EdgeStatus(sessions, registry, settings.edge_online_seconds)
    search = SearchService(
        IndexFile(settings.data_bucket),
        query_embeddings,
        sessions,
        registry,
        QueryQueue(settings.query_queue_url),
        settings.search_edge_wait_seconds,
        settings.edge_online_seconds,
    )
    return Api(
        reads=Reads(sessions, records, registry, UsageStore(settings.usage_table), changes, edge_status),
        search=search,
        refresh=refresh,
        edge=EdgeSync(sessions, records, registry, refresh),
        embeddings=EmbeddingSync(
            sessions, registry, EmbeddingStore(settings.embeddings_table), query_embeddings, refresh
        ),
        edits=RecordEdits(sessions, records, registry),
        edge_status=edge_status,
        distill=DistillService(
            sessions, registry, UsageStore(settings.usage_table), lazy_completer(settings), idempotent_once(settings)
        ),
    )
