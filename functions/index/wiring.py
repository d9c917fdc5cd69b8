"""IndexFunction's objects, built once per Lambda environment."""

from __future__ import annotations

from collections.abc import Mapping

from functions.index.indexer import Indexer
from functions.settings import Settings
from functions.stores.embeddings import EmbeddingStore
from functions.stores.index_file import IndexFile
from functions.stores.registry import RegistryStore
from functions.stores.sessions import SessionStore


def build(environ: Mapping[str, str] | None = None) -> Indexer:
    settings = Settings(environ).require(
        Settings.sessions_table, Settings.embeddings_table, Settings.registry_table, Settings.data_bucket
    )
    return Indexer(
        IndexFile(settings.data_bucket),
        SessionStore(settings.sessions_table, settings.data_bucket),
        EmbeddingStore(settings.embeddings_table),
        RegistryStore(settings.registry_table),
    )
