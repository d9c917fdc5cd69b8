"""KV caches of each system's stable prompt part: prefilled once per (model version, prompt version).

Kept in memory and in `<folder>/<model version>/<prompt version>.safetensors` (mlx-lm's save_prompt_cache /
load_prompt_cache), so a restart does not prefill them again. A file whose tokens differ from the prompt's
(another tokenizer or chat template under the same weights) is rebuilt; `retain` deletes what no current
system uses.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlx_lm.models.cache import load_prompt_cache, save_prompt_cache

from edge_worker.logs import logger

Prefill = Callable[[list[int]], list[Any]]
SUFFIX = ".safetensors"


def tokens_digest(tokens: list[int]) -> str:
    return hashlib.sha256(json.dumps(tokens).encode()).hexdigest()


class PrefixCaches:
    """Per-system prefix KV caches of one model; `folder` None keeps them in memory only."""

    def __init__(self, model_version: str, folder: Path | None = None) -> None:
        self.model_version = model_version
        self.folder = folder
        self._memory: dict[str, tuple[str, list[Any]]] = {}  # prompt version -> (tokens digest, cache)
        self.prefilled = 0  # prefixes computed by the model (not read from memory or disk)
        self.loaded = 0  # prefixes read from disk

    def copy_of(self, prompt_version: str, tokens: list[int], prefill: Prefill) -> list[Any]:
        """A private copy of the cache holding `tokens` (the prompt's stable part), computing it when needed."""
        return copy.deepcopy(self.get(prompt_version, tokens, prefill))

    def get(self, prompt_version: str, tokens: list[int], prefill: Prefill) -> list[Any]:
        """The shared cache for this prompt version (do not extend it: use copy_of)."""
        digest = tokens_digest(tokens)
        held = self._memory.get(prompt_version)
        if held and held[0] == digest:
            return held[1]
        cache = self._load(prompt_version, digest)
        if cache is None:
            cache = prefill(tokens)
            self.prefilled += 1
            self._save(prompt_version, digest, cache)
        self._memory[prompt_version] = (digest, cache)
        return cache

    def retain(self, prompt_versions: set[str]) -> int:
        """Forget every cache but these (memory and disk, other model versions included); returns files deleted."""
        for version in list(self._memory):
            if version not in prompt_versions:
                del self._memory[version]
        if self.folder is None or not self.folder.is_dir():
            return 0
        deleted = 0
        for entry in self.folder.iterdir():
            if entry.is_dir() and entry.name != _dirname(self.model_version):
                deleted += sum(1 for _ in entry.glob("*" + SUFFIX))
                shutil.rmtree(entry, ignore_errors=True)
        keep = {_filename(version) for version in prompt_versions}
        for path in self._model_dir().glob("*" + SUFFIX) if self._model_dir().is_dir() else []:
            if path.name not in keep:
                path.unlink(missing_ok=True)
                deleted += 1
        if deleted:
            logger.info("stale prefix caches deleted", files=deleted, model_version=self.model_version)
        return deleted

    def _model_dir(self) -> Path:
        assert self.folder is not None
        return self.folder / _dirname(self.model_version)

    def _path(self, prompt_version: str) -> Path:
        return self._model_dir() / _filename(prompt_version)

    def _load(self, prompt_version: str, digest: str) -> list[Any] | None:
        if self.folder is None:
            return None
        path = self._path(prompt_version)
        if not path.is_file():
            return None
        try:
            cache, metadata = load_prompt_cache(str(path), return_metadata=True)
        except Exception as error:  # a truncated or foreign file: rebuilt below
            logger.warning("unreadable prefix cache rebuilt", path=str(path), problem=str(error))
            return None
        if metadata.get("tokens_sha256") != digest:
            return None
        self.loaded += 1
        return cache

    def _save(self, prompt_version: str, digest: str, cache: list[Any]) -> None:
        if self.folder is None:
            return
        path = self._path(prompt_version)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.stem + ".partial" + SUFFIX)  # mx.save_safetensors wants the suffix
        metadata = {"model_version": self.model_version, "prompt_version": prompt_version, "tokens_sha256": digest}
        try:
            save_prompt_cache(str(partial), cache, metadata)
            partial.replace(path)  # readers never see half a file
        except OSError as error:  # a full disk costs a prefill on the next start, nothing else
            logger.warning("prefix cache not saved", path=str(path), problem=str(error))
            partial.unlink(missing_ok=True)


def _dirname(version: str) -> str:
    return version.replace(":", "-")


def _filename(version: str) -> str:
    return _dirname(version) + SUFFIX
