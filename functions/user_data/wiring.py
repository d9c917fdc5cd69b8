"""UserDataFunction's objects, built once per Lambda environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from functions.queues import DeletionQueue
from functions.settings import Settings
from functions.stores.changes import ChangeLog
from functions.stores.deletions import DeletionStore
from functions.stores.exports import ExportArchives
from functions.stores.records import RecordStore
from functions.stores.sessions import SessionStore
from functions.user_data.deletion import Deletions
from functions.user_data.export import Exporter

REQUIRED = (
    Settings.sessions_table,
    Settings.records_table,
    Settings.history_table,
    Settings.changes_table,
    Settings.deletions_table,
    Settings.data_bucket,
    Settings.deletion_queue_url,
)


@dataclass(frozen=True)
class UserData:
    deletions: Deletions
    exporter: Exporter


def build(environ: Mapping[str, str] | None = None) -> UserData:
    settings = Settings(environ).require(*REQUIRED)
    sessions = SessionStore(settings.sessions_table, settings.data_bucket)
    records = RecordStore(
        settings.records_table,
        settings.history_table,
        settings.data_bucket,
        sessions,
        ChangeLog(settings.changes_table),
    )
    return UserData(
        deletions=Deletions(
            sessions, DeletionStore(settings.deletions_table), DeletionQueue(settings.deletion_queue_url)
        ),
        exporter=Exporter(sessions, records, ExportArchives(settings.data_bucket)),
    )
