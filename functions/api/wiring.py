"""ApiFunction's objects, built once per Lambda environment: the real stores and queues behind each service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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
    )
