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


def build_worker(config: EdgeConfig, token: str | None = None, translator=None, sqs=None) -> EdgeWorker:
    api = EdgeApi(config.api_url, token or api_token())
    return EdgeWorker(config, api, translator or build_translator(config.model), sqs=sqs)
