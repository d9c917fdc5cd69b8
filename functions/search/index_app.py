"""IndexFunction: DynamoDB stream batches (Sessions, Embeddings) -> the search index file."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from functions.common.registry_store import RegistryStore
from functions.common.session_store import SessionStore
from functions.common.settings import Settings
from functions.search.embedding_store import EmbeddingStore
from functions.search.index_file import IndexFile
from functions.search.indexer import Indexer

settings = Settings.from_env()
logger = Logger()
indexer = Indexer(
    IndexFile(settings.data_bucket),
    SessionStore(settings.sessions_table, settings.data_bucket),
    EmbeddingStore(settings.embeddings_table),
    RegistryStore(settings.registry_table),
    settings.sessions_table,
    settings.embeddings_table,
)


@logger.inject_lambda_context
def lambda_handler(event: dict, context) -> dict:
    """The update is one idempotent upsert: a failure raises and the whole batch is delivered again."""
    indexer.apply(event.get("Records", []))
    return {"batchItemFailures": []}
