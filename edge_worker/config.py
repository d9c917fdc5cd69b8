"""The edge's settings: every environment variable it reads, and the settings file in the state directory.

Precedence: an `SSP_*` environment variable, then `$SSP_HOME/edge.json`, then the defaults below.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

HOME_VARIABLE = "SSP_HOME"
BLAS_VARIABLE = "SSP_BLAS"  # read once at import (edge_worker.blas): a BLAS library for MLX, or "none"
TOKEN_VARIABLE = "SSP_API_TOKEN"
KEYRING_SERVICE = "session-summary-pipeline"
KEYRING_USER = "api-token"
LOOPBACK_HOSTS = ("localhost", "::1")
PRIVATE_UMASK = 0o077  # what this process creates is its user's only: folders 0700, files 0600


def ssp_home(environ: Mapping[str, str] | None = None) -> Path:
    """The state directory: $SSP_HOME, else ~/.session-summary-pipeline (models, settings, queues' local state)."""
    env = os.environ if environ is None else environ
    return Path(env.get(HOME_VARIABLE) or Path.home() / ".session-summary-pipeline").expanduser()


# ----- private files: everything under $SSP_HOME (data, tokens, logs) is readable by its user only -----
def _tighten(path: Path) -> bool:
    """Take group and other access off `path` (never through a symlink); True if it had any."""
    mode = path.lstat().st_mode
    if stat.S_ISLNK(mode) or not mode & 0o077:
        return False
    os.chmod(path, stat.S_IMODE(mode) & ~0o077)
    return True


def private_dir(path: Path) -> None:
    """Create `path` and its missing parents as 0700 folders; an existing `path` loses group and other access."""
    missing, folder = [], path
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        with contextlib.suppress(FileExistsError):
            created.mkdir(mode=0o700)
    if not missing and not path.is_dir():
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path))  # as mkdir(exist_ok=True)
    if not missing:
        _tighten(path)


def _private_opener(path: str, flags: int) -> int:
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
    return fd


def open_private(path: Path, mode: str = "a", **options: Any) -> IO[Any]:
    """`open(path, mode, ...)` with the file made 0600 (its folder is made private too)."""
    private_dir(path.parent)
    return open(path, mode, opener=_private_opener, **options)


def write_private(path: Path, data: str | bytes) -> None:
    """Replace `path` whole with `data` (text as UTF-8), mode 0600, through a temporary file beside it."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open_private(temporary, "wb") as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
    os.replace(temporary, path)


# What the pipeline keeps in $SSP_HOME: when SSP_HOME is the user's own home folder, only these are tightened.
OWN_ENTRIES = ("local", "logs", "edge", "edge.json", "models", "prefix-cache", "training", "adapters")


def private_home(home: Path | None = None) -> list[Path]:
    """Set this process's umask to PRIVATE_UMASK and take group and other access off `home` (default $SSP_HOME)
    and everything in it (an older version left them open); returns the paths it tightened. A home that is the
    user's home folder (or /) keeps its mode, and only its OWN_ENTRIES are tightened."""
    os.umask(PRIVATE_UMASK)
    home = home or ssp_home()
    if not home.exists():
        private_dir(home)
        return []
    shared = home.resolve() in (Path.home().resolve(), Path("/"))
    roots = [home / name for name in OWN_ENTRIES if (home / name).exists()] if shared else [home]
    tightened = [root for root in roots if _tighten(root)]
    for root in roots:
        for folder, dirs, files in os.walk(root):  # symlinks are left as they are, and not followed
            for name in dirs + files:
                with contextlib.suppress(OSError):  # gone since the listing, or not this user's
                    if _tighten(Path(folder) / name):
                        tightened.append(Path(folder) / name)
    return tightened


class ConfigError(ValueError):
    """Settings that are missing or invalid; the message names the variable or file key to set."""


class EdgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_url: str = Field(min_length=1, description="the HTTP API's base URL")
    queue_url: str = Field(min_length=1, description="the EdgeQueue's SQS URL")
    model: str = Field(default="", description="MLX model folder or Hugging Face id; empty = the prepared SmolLM2")
    systems_dirs: list[Path] = Field(default_factory=list, description="folders of system definitions")
    shipped_systems: bool = Field(default=True, description="translate for the shipped systems too")
    state_dir: Path = Field(default_factory=lambda: ssp_home() / "edge", description="outbox and status file")
    wait_seconds: int = Field(default=20, ge=0, le=20, description="SQS long-poll wait")
    visibility_seconds: int = Field(default=120, ge=10, le=43200, description="SQS visibility timeout of a job")
    reconcile_seconds: int = Field(default=600, ge=5, description="time between two searches for missed work")
    flush_seconds: float = Field(default=5.0, gt=0, description="time between two outbox replays")
    outbox_max_attempts: int = Field(
        default=8, ge=1, description="tries of a request the API fails (5xx) before it is set aside as a dead letter"
    )
    outbox_retry_seconds: float = Field(
        default=5.0, ge=0, description="wait before a failed request is tried again, doubled after each try"
    )
    backfill_queue_url: str = Field(
        default="", description="the BackfillQueue's SQS URL: backfills, polled only when the edge queue is empty"
    )
    batch_size: int = Field(
        default=16,
        ge=1,
        le=64,
        description="most sequences decoded together: one per (summary, system) pair, or per bullet",
    )
    query_queue_url: str = Field(default="", description="search queries to embed; empty = searches stay lexical")
    embedding_model: str = Field(default="", description="MLX embedding model folder; empty = the translator model")
    embedding_pooling: Literal["mean", "last"] = "mean"
    heartbeat_seconds: float = Field(default=60.0, gt=0, description="time between two heartbeats")
    region: str = Field(default="", description="the queues' AWS region; AWS_REGION or AWS_DEFAULT_REGION win")
    endpoint_url: str = Field(
        default="", description="an SQS endpoint other than AWS's (the local stack's); AWS_ENDPOINT_URL wins"
    )
    token_file: Path | None = Field(
        default=None, description="a file holding the API token, readable by its owner only (mode 0600)"
    )

    @property
    def outbox_path(self) -> Path:
        return self.state_dir / "outbox.sqlite3"

    @property
    def status_path(self) -> Path:
        return self.state_dir / "status.json"


ENVIRONMENT = {  # setting -> the environment variable that sets it
    "api_url": "SSP_API_URL",
    "queue_url": "SSP_EDGE_QUEUE_URL",
    "model": "SSP_MODEL",
    "systems_dirs": "SSP_SYSTEMS_DIRS",  # several folders: separated by os.pathsep
    "shipped_systems": "SSP_SHIPPED_SYSTEMS",  # "false" or "0": only the systems of SSP_SYSTEMS_DIRS
    "wait_seconds": "SSP_WAIT_SECONDS",
    "reconcile_seconds": "SSP_RECONCILE_SECONDS",
    "visibility_seconds": "SSP_VISIBILITY_SECONDS",
    "state_dir": "SSP_EDGE_STATE_DIR",
    "query_queue_url": "SSP_QUERY_QUEUE_URL",
    "backfill_queue_url": "SSP_BACKFILL_QUEUE_URL",
    "batch_size": "SSP_BATCH_SIZE",
    "embedding_model": "SSP_EMBEDDING_MODEL",
}


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    return ssp_home(environ) / "edge.json"


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> EdgeConfig:
    """Settings from `path` (default $SSP_HOME/edge.json, optional) and the environment; ConfigError if unusable
    or if a `path` given does not exist."""
    env = os.environ if environ is None else environ
    if path is not None and not path.exists():
        raise ConfigError(f"{path}: no such settings file")
    path = path or config_path(env)
    data: dict[str, Any] = {"state_dir": ssp_home(env) / "edge"}
    data.update(_settings_file(path))
    from_env = set()
    for setting, variable in ENVIRONMENT.items():
        if env.get(variable):
            value = env[variable]
            data[setting] = value.split(os.pathsep) if setting == "systems_dirs" else value
            from_env.add(setting)
    try:
        return EdgeConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_problem(error, path, from_env) for error in exc.errors())
        raise ConfigError(f"edge configuration: {problems}") from exc


def _settings_file(path: Path) -> dict[str, Any]:
    """The settings in `path` ({} when it does not exist); ConfigError when it cannot be read or is not an object."""
    if not path.exists():
        return {}
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a settings file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the settings file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: must hold a JSON object of settings, not {type(settings).__name__}")
    return settings


def model_setting(environ: Mapping[str, str] | None = None) -> str:
    """The model the worker runs: $SSP_MODEL, else "model" in $SSP_HOME/edge.json, else "" (the prepared default).

    Raises ConfigError when edge.json cannot be read or its "model" is not a string."""
    env = os.environ if environ is None else environ
    if env.get(ENVIRONMENT["model"]):
        return env[ENVIRONMENT["model"]]
    path = config_path(env)
    model = _settings_file(path).get("model", "")
    if not isinstance(model, str):
        raise ConfigError(f'"model" in {path}: must be a string')
    return model


def _problem(error: ErrorDetails, path: Path, from_env: set[str]) -> str:
    setting = str(error["loc"][0]) if error["loc"] else ""
    variable = ENVIRONMENT.get(setting)
    field = EdgeConfig.model_fields.get(setting)
    unset = error["type"] == "missing" or (error["type"] == "string_too_short" and not error["input"])
    if unset and variable:
        about = f" ({field.description})" if field and field.description else ""
        return f'{variable} is not set{about}: set it, or "{setting}" in {path}'
    if setting in from_env and variable:
        return f"{variable}={error['input']!r}: {error['msg']}"
    return f'"{".".join(map(str, error["loc"]))}" in {path}: {error["msg"]}'


def api_token(environ: Mapping[str, str] | None = None, token_file: Path | None = None) -> str:
    """$SSP_API_TOKEN, else `token_file` (the `token_file` setting; must be mode 0600), else the OS keychain entry
    (service session-summary-pipeline, user api-token). ConfigError when none has a token."""
    env = os.environ if environ is None else environ
    if env.get(TOKEN_VARIABLE):
        return env[TOKEN_VARIABLE]
    if token_file is not None:
        return _token_from_file(token_file)
    try:
        import keyring

        token = keyring.get_password(KEYRING_SERVICE, KEYRING_USER)
    except Exception:  # no keychain backend on this machine
        token = None
    if not token:
        raise ConfigError(
            f"{TOKEN_VARIABLE} is not set and the OS keychain has no API token: set it, or run "
            "`python -m edge_worker token-store`"
        )
    return token


def _token_from_file(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f'"token_file" {path}: cannot read it ({exc.strerror}); set {TOKEN_VARIABLE} instead'
        ) from exc
    except UnicodeDecodeError:
        raise ConfigError(f'"token_file" {path} is not UTF-8 text; set {TOKEN_VARIABLE} instead') from None
    if mode & 0o077:
        raise ConfigError(f'"token_file" {path} is readable by others: `chmod 600 {path}`')
    if not token:
        raise ConfigError(f'"token_file" {path} is empty; set {TOKEN_VARIABLE} instead')
    return token


def sqs_client(config: EdgeConfig, environ: Mapping[str, str] | None = None) -> Any:
    """boto3's SQS client for the configured region and endpoint (the AWS_* variables win over the settings).

    A loopback endpoint without AWS credentials gets placeholder ones (a local stack checks none).
    Raises ConfigError when no region is set anywhere.
    """
    import boto3

    env = os.environ if environ is None else environ
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or config.region
    if not region:
        raise ConfigError('AWS_REGION is not set (the queues\' AWS region): set it, or "region" in edge.json')
    options: dict[str, Any] = {"region_name": region}
    endpoint = "" if env.get("AWS_ENDPOINT_URL_SQS") or env.get("AWS_ENDPOINT_URL") else config.endpoint_url
    if endpoint:
        options["endpoint_url"] = endpoint
        host = urlsplit(endpoint).hostname or ""
        loopback = host in LOOPBACK_HOSTS or host.startswith("127.")
        if loopback and boto3.Session(region_name=region).get_credentials() is None:
            options.update(aws_access_key_id="local", aws_secret_access_key="local")
    return boto3.client("sqs", **options)
