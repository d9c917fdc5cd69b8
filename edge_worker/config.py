"""Edge worker settings: a JSON file in the state directory, overridden by environment variables."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge_worker.model_store import ssp_home

KEYRING_SERVICE = "session-summary-pipeline"
ENV_OVERRIDES = {  # environment variable -> setting
    "SSP_API_URL": "api_url",
    "SSP_EDGE_QUEUE_URL": "queue_url",
    "SSP_MODEL": "model",
    "SSP_SYSTEMS_DIRS": "systems_dirs",
    "SSP_WAIT_SECONDS": "wait_seconds",
    "SSP_RECONCILE_SECONDS": "reconcile_seconds",
    "SSP_VISIBILITY_SECONDS": "visibility_seconds",
    "SSP_EDGE_STATE_DIR": "state_dir",
    "SSP_QUERY_QUEUE_URL": "query_queue_url",
    "SSP_EMBEDDING_MODEL": "embedding_model",
}


class ConfigError(ValueError):
    pass


class EdgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_url: str = Field(min_length=1)
    queue_url: str = Field(min_length=1)
    model: str = Field(default="", description="MLX model folder or Hugging Face id; empty = the prepared SmolLM2")
    systems_dirs: list[Path] = Field(default_factory=list)
    state_dir: Path = Field(default_factory=lambda: ssp_home() / "edge")
    wait_seconds: int = Field(default=20, ge=0, le=20)
    visibility_seconds: int = Field(default=120, ge=10, le=43200)
    reconcile_seconds: int = Field(default=600, ge=5)
    flush_seconds: float = Field(default=5.0, gt=0)
    query_queue_url: str = Field(default="", description="search queries to embed; empty = searches stay lexical")
    embedding_model: str = Field(default="", description="MLX embedding model folder; empty = the translator model")
    embedding_pooling: Literal["mean", "last"] = "mean"
    heartbeat_seconds: float = Field(default=60.0, gt=0)


def config_path() -> Path:
    return ssp_home() / "edge.json"


def load_config(path: Path | None = None, environ: dict[str, str] | None = None) -> EdgeConfig:
    env = os.environ if environ is None else environ
    path = path or config_path()
    data: dict = {}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON: {exc}") from exc
    for variable, setting in ENV_OVERRIDES.items():
        if env.get(variable):
            value = env[variable]
            data[setting] = value.split(os.pathsep) if setting == "systems_dirs" else value
    try:
        return EdgeConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"edge configuration ({path} + SSP_* variables): {problems}") from exc


def api_token(environ: dict[str, str] | None = None) -> str:
    """SSP_API_TOKEN, else the OS keychain entry (service session-summary-pipeline, user api-token)."""
    env = os.environ if environ is None else environ
    if env.get("SSP_API_TOKEN"):
        return env["SSP_API_TOKEN"]
    try:
        import keyring

        token = keyring.get_password(KEYRING_SERVICE, "api-token")
    except Exception:  # no keychain backend on this machine
        token = None
    if not token:
        raise ConfigError("no API token: set SSP_API_TOKEN or run `python -m edge_worker token-store`")
    return token
