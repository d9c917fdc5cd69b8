"""Build a running edge worker from configuration: model, translator, API client, queue client."""

from __future__ import annotations

from edge_worker.api_client import EdgeApi
from edge_worker.config import EdgeConfig, api_token
from edge_worker.worker import EdgeWorker


def build_translator(model_ref: str):
    from edge_worker.model_store import load_model, prepare_default_model
    from edge_worker.translator import Translator

    model, tokenizer, info = load_model(model_ref or str(prepare_default_model()))
    return Translator(model, tokenizer, info)


def build_embedder(config: EdgeConfig, translator):
    """The configured embedding model, else the translator's own model (mean-pooled hidden states)."""
    from edge_worker.embedder import Embedder

    if config.embedding_model:
        from edge_worker.model_store import load_model

        model, tokenizer, info = load_model(config.embedding_model)
        return Embedder(model, tokenizer, info, pooling=config.embedding_pooling)
    return Embedder(translator.model, translator.tokenizer, translator.model_info, pooling=config.embedding_pooling)


def build_worker(config: EdgeConfig, token: str | None = None, translator=None, sqs=None, embedder=None) -> EdgeWorker:
    api = EdgeApi(config.api_url, token or api_token())
    translator = translator or build_translator(config.model)
    return EdgeWorker(config, api, translator, sqs=sqs, embedder=embedder or build_embedder(config, translator))
