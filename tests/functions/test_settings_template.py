"""template.yaml and functions.settings agree both ways, and each function's wiring builds from its template
environment alone (a variable it needs, removed, fails the cold start with its name)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from functions.settings import SettingError, Settings
from local_stack.template import load_app

REPO = Path(__file__).resolve().parents[2]
APP = load_app()

# Read by settings but never set by the template: local development and tests set these.
LOCAL_ONLY = {
    "ANTHROPIC_API_KEY",  # a key instead of the SSM parameter
    "ANTHROPIC_BASE_URL",  # the local Messages API server
    "ANTHROPIC_BEDROCK_BASE_URL",  # a stand-in Bedrock endpoint
    "AWS_REGION",  # set by the Lambda runtime itself
    "AWS_DEFAULT_REGION",  # set by the Lambda runtime itself
}
# Set by the template for Powertools, which reads them itself.
POWERTOOLS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL"}

# What each function cannot start without (its wiring's require list, stated independently here).
REQUIRED = {
    "IngestFunction": {"SESSIONS_TABLE", "DATA_BUCKET", "SUMMARIZE_QUEUE_URL"},
    "SummarizeFunction": {
        "SESSIONS_TABLE",
        "DATA_BUCKET",
        "REGISTRY_TABLE",
        "USAGE_TABLE",
        "EDGE_QUEUE_URL",
        "SUMMARIZER_MODEL_ID",
        "IDEMPOTENCY_TABLE",
    },
    "SummarizeDeadLetterFunction": {"SESSIONS_TABLE", "DATA_BUCKET"},
    "CollectBatchesFunction": {
        "SESSIONS_TABLE",
        "DATA_BUCKET",
        "REGISTRY_TABLE",
        "USAGE_TABLE",
        "EDGE_QUEUE_URL",
        "SUMMARIZER_MODEL_ID",
    },
    "ApiFunction": {
        "SESSIONS_TABLE",
        "RECORDS_TABLE",
        "HISTORY_TABLE",
        "REGISTRY_TABLE",
        "USAGE_TABLE",
        "REFRESH_TABLE",
        "EMBEDDINGS_TABLE",
        "QUERY_EMBEDDINGS_TABLE",
        "DATA_BUCKET",
        "EDGE_QUEUE_URL",
        "BACKFILL_QUEUE_URL",
        "QUERY_QUEUE_URL",
        "CHANGES_TABLE",
    },
    "UserDataFunction": {
        "SESSIONS_TABLE",
        "RECORDS_TABLE",
        "HISTORY_TABLE",
        "CHANGES_TABLE",
        "DELETIONS_TABLE",
        "DATA_BUCKET",
        "DELETION_QUEUE_URL",
    },
    "PurgeFunction": {
        "SESSIONS_TABLE",
        "RECORDS_TABLE",
        "HISTORY_TABLE",
        "CHANGES_TABLE",
        "EMBEDDINGS_TABLE",
        "IDEMPOTENCY_TABLE",
        "DELETIONS_TABLE",
        "DATA_BUCKET",
        "DELETION_QUEUE_URL",
        "REFRESH_TABLE",
    },
    "ChangeFeedFunction": {"CHANGE_BUS_NAME", "DATA_BUCKET"},
    "IndexFunction": {"SESSIONS_TABLE", "EMBEDDINGS_TABLE", "REGISTRY_TABLE", "DATA_BUCKET"},
    "AuthorizerFunction": {"TOKENS_TABLE"},
    "NotifyFunction": {"CONNECTIONS_TABLE", "WEBSOCKET_MANAGEMENT_URL"},
}


def _value(name: str, value: Any) -> str:
    """A template value as text: a parameter's default, or a stand-in for a resource's name or URL."""
    if isinstance(value, dict) and "Ref" in value:
        parameter = APP.raw.get("Parameters", {}).get(value["Ref"])
        if parameter is not None:
            return str(parameter.get("Default", ""))
    return f"https://example.com/{name.lower()}" if isinstance(value, dict) else str(value)


def environment(function: str) -> dict[str, str]:
    return {name: _value(name, value) for name, value in APP.function_environment(function).items()}


def wiring(function: str) -> Any:
    handler = APP.functions[function]["Handler"]  # functions.<folder>.app.lambda_handler
    return importlib.import_module(handler.rsplit(".", 2)[0] + ".wiring")


def test_every_template_variable_is_read_by_settings_and_the_other_way_round():
    in_template = {name for function in APP.functions for name in APP.function_environment(function)}
    read = set(Settings.variables())
    assert in_template - POWERTOOLS - read == set(), "set by the template, read by nothing"
    assert read - LOCAL_ONLY - in_template == set(), "read by settings, set by no template function"
    assert read >= LOCAL_ONLY and not LOCAL_ONLY & in_template
    assert {v.name for v in Settings.variables().values() if v.local_only} == LOCAL_ONLY


def test_each_lambda_function_has_its_own_folder():
    folders = {APP.functions[f]["Handler"].split(".")[1] for f in APP.functions}
    assert len(folders) == len(APP.functions) == len(REQUIRED)
    with_app = {path.parent.name for path in (REPO / "functions").glob("*/app.py")}
    assert folders == with_app


@pytest.mark.parametrize("function", sorted(REQUIRED))
def test_the_template_environment_is_enough_to_build_each_function(function, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    env = environment(function)
    assert wiring(function).build(env) is not None
    failing = set()
    for name in env:
        try:
            wiring(function).build({k: v for k, v in env.items() if k != name})
        except SettingError as error:
            assert name in str(error)
            failing.add(name)
    assert failing == REQUIRED[function]
