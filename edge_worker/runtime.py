"""Build a running edge worker from configuration: the one place its clients are made and wired."""

from __future__ import annotations

from typing import Any

from edge_worker.api_client import EdgeApi
from edge_worker.catalog import SystemCatalog, catalog_folders
from edge_worker.config import EdgeConfig, api_token
from edge_worker.ports import EmbedderLike, QueueClient, TranslatorLike
from edge_worker.worker import EdgeWorker


def build_translator(model_ref: str) -> Any:
    """A Translator over `model_ref` (folder or Hugging Face id), or the prepared default model when empty, applying
    each system's adopted LoRA adapter ($SSP_HOME/adapters/adopted.json, re-read before each call)."""
    from edge_worker.model_store import adopted_adapters, load_model, prepare_default_model
    from edge_worker.translator import Translator, for_this_device, prefix_cache_dir

    model, tokenizer, info = load_model(model_ref or str(prepare_default_model()))
    return Translator(
        for_this_device(model), tokenizer, info, prefix_cache_dir=prefix_cache_dir(), adopted=adopted_adapters
    )


def build_embedder(config: EdgeConfig, translator: Any) -> EmbedderLike:
    """The configured embedding model, else the translator's own model (mean-pooled hidden states)."""
    from edge_worker.embedder import Embedder

    if config.embedding_model:
        from edge_worker.model_store import load_model

        model, tokenizer, info = load_model(config.embedding_model)
        return Embedder(model, tokenizer, info, pooling=config.embedding_pooling)
    return Embedder(translator.model, translator.tokenizer, translator.model_info, pooling=config.embedding_pooling)


def build_worker(
    config: EdgeConfig,
    token: str | None = None,
    translator: TranslatorLike | None = None,
    sqs: QueueClient | None = None,
    embedder: EmbedderLike | None = None,
) -> EdgeWorker:
    """The worker with its clients; each one not given is made from `config` (token: $SSP_API_TOKEN or keychain).

    Raises ConfigError when there is no API token.
    """
    translator = translator or build_translator(config.model)
    if sqs is None:
        import boto3

        sqs = boto3.client("sqs")
    return EdgeWorker(
        config,
        EdgeApi(config.api_url, token or api_token()),
        translator,
        catalog=SystemCatalog(catalog_folders(config.systems_dirs, config.shipped_systems)),
        sqs=sqs,
        embedder=embedder or build_embedder(config, translator),
    )
