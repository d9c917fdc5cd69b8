"""PurgeFunction's objects, built once per Lambda environment."""

from __future__ import annotations

from collections.abc import Mapping

from functions.purge.purger import Purger
from functions.queues import DeletionQueue
from functions.settings import Settings
from functions.stores.changes import ChangeLog
from functions.stores.deletions import DeletionStore
from functions.stores.embeddings import EmbeddingStore
from functions.stores.exports import ExportArchives
from functions.stores.idempotency import DistillIdempotency, SummaryIdempotency
from functions.stores.index_file import IndexFile
from functions.stores.records import RecordStore
from functions.stores.refresh import RefreshStore
from functions.stores.sessions import SessionStore

REQUIRED = (
    Settings.sessions_table,
    Settings.records_table,
    Settings.history_table,
    Settings.changes_table,
    Settings.embeddings_table,
    Settings.idempotency_table,
    Settings.deletions_table,
    Settings.data_bucket,
    Settings.deletion_queue_url,
    Settings.refresh_table,
)


def build(environ: Mapping[str, str] | None = None) -> Purger:
    settings = Settings(environ).require(*REQUIRED)
    sessions = SessionStore(settings.sessions_table, settings.data_bucket)
    changes = ChangeLog(settings.changes_table)
    return Purger(
        sessions=sessions,
        records=RecordStore(settings.records_table, settings.history_table, settings.data_bucket, sessions, changes),
        changes=changes,
        embeddings=EmbeddingStore(settings.embeddings_table),
        index_file=IndexFile(settings.data_bucket),
        idempotency=SummaryIdempotency(settings.idempotency_table),
        distills=DistillIdempotency(settings.idempotency_table),
        archives=ExportArchives(settings.data_bucket),
        jobs=DeletionStore(settings.deletions_table),
        queue=DeletionQueue(settings.deletion_queue_url),
        refresh=RefreshStore(settings.refresh_table),
    )
