"""Translate one summary into one schema-valid JSON document per system with a local MLX model."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import mlx.core as mx
from jsonschema import Draft202012Validator
from mlx_lm.models.cache import make_prompt_cache
from mlx_lm.sample_utils import make_sampler
from pydantic import BaseModel, ConfigDict

from edge_worker.constrained import SchemaConstraint, compile_schema, generate_constrained, grammar_tokenizer
from edge_worker.jobs import lineage_for
from edge_worker.model_thread import Cancelled
from edge_worker.ports import ModelInfoLike, SystemLike
from edge_worker.prompting import build_summary_prompt
from schemas.lineage import content_version

PREFILL_STEP = 2048


class InvalidTranslationError(RuntimeError):
    """Constrained output that still failed JSON parsing or schema validation."""


class Lineage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    translator_model_version: str
    translator_prompt_version: str
    schema_version: str


class TranslationStats(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt_tokens_processed: int
    generated_tokens: int
    seconds: float
    tokens_per_second: float


class Translation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summary_id: str
    system: str
    document: dict[str, Any]
    lineage: Lineage
    stats: TranslationStats


def model_version(model_info: ModelInfoLike) -> str:
    """The registry version of the translator model (content-addressed: model id and weights digest)."""
    return content_version("translator-model", model_info.registry_content())


class Translator:
    """One summary, many systems: the summary prefix is prefilled once and its KV cache reused."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        model_info: ModelInfoLike,
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.model_info = model_info
        self.model_version = model_version(model_info)
        self.temperature = temperature
        self.max_tokens = max_tokens  # optional cap below each system's max_output_tokens
        self.gtok = grammar_tokenizer(tokenizer)
        self._grammars: dict[str, str] = {}

    def translate(
        self,
        summary_id: str,
        summary_text: str,
        systems: Iterable[SystemLike],
        *,
        naive: bool = False,
        seed: int | None = None,
        checkpoint: Callable[[], bool] | None = None,
    ) -> list[Translation]:
        """naive=True prefills the full prompt for every system (the comparison baseline).

        checkpoint is called before each prefill chunk and once per generated token, and may run other short
        model work there; when it returns True, Cancelled is raised.
        """
        systems = list(systems)
        if not systems:
            return []
        for system in systems:
            self._grammar(system)  # fail on an unsupported schema before any model work
        prompt = build_summary_prompt(self.tokenizer, summary_text)
        if seed is not None:
            mx.random.seed(seed)
        results = []
        prefix_cache, prefix_seconds, prefix_tokens = None, 0.0, 0
        if not naive:
            started = time.perf_counter()
            prefix_cache = self._prefill(prompt.prefix_tokens, checkpoint)
            prefix_seconds, prefix_tokens = time.perf_counter() - started, len(prompt.prefix_tokens)
        for system in systems:
            if naive:
                tokens, cache = prompt.full_tokens(system), None
            else:
                tokens, cache = prompt.suffix_tokens(system), copy.deepcopy(prefix_cache)
            results.append(
                self._translate_one(summary_id, system, tokens, cache, prefix_tokens, prefix_seconds, checkpoint)
            )
            prefix_tokens, prefix_seconds = 0, 0.0  # the shared prefix is charged to the first system
        return results

    def prepare(self, systems: Iterable[SystemLike]) -> None:
        """Compile the systems' grammars now, so the first translation does not pay for it."""
        for system in systems:
            self._grammar(system)

    def _grammar(self, system: SystemLike) -> str:
        key = content_version("schema", system.schema)
        if key not in self._grammars:
            self._grammars[key] = compile_schema(system.schema, self.gtok, system=system.name)
        return self._grammars[key]

    def _prefill(self, tokens: list[int], checkpoint: Callable[[], bool] | None) -> list[Any]:
        cache = make_prompt_cache(self.model)
        for start in range(0, len(tokens), PREFILL_STEP):
            if checkpoint is not None and checkpoint():
                raise Cancelled(f"prefill stopped after {start} tokens")
            self.model(mx.array(tokens[start : start + PREFILL_STEP])[None], cache=cache)
            mx.eval([c.state for c in cache])
        return cache

    def _budget(self, system: SystemLike) -> int:
        limit = system.max_output_tokens
        return min(limit, self.max_tokens) if self.max_tokens else limit

    def _translate_one(
        self,
        summary_id: str,
        system: SystemLike,
        tokens: list[int],
        cache: list[Any] | None,
        extra_prompt_tokens: int,
        extra_seconds: float,
        checkpoint: Callable[[], bool] | None,
    ) -> Translation:
        budget = self._budget(system)
        constraint = SchemaConstraint(self.gtok, self._grammar(system), max_tokens=budget, system=system.name)
        generation = generate_constrained(
            self.model,
            self.tokenizer,
            tokens,
            constraint,
            max_tokens=budget,
            sampler=make_sampler(temp=self.temperature),
            prompt_cache=cache,
            checkpoint=checkpoint,
        )
        document = _checked_document(system, generation.text)
        seconds = generation.seconds + extra_seconds
        return Translation(
            summary_id=summary_id,
            system=system.name,
            document=document,
            lineage=Lineage(**lineage_for(system, self.model_version)),
            stats=TranslationStats(
                prompt_tokens_processed=len(tokens) + extra_prompt_tokens,
                generated_tokens=len(generation.tokens),
                seconds=round(seconds, 4),
                tokens_per_second=round(generation.tokens_per_second, 2),
            ),
        )


def _checked_document(system: SystemLike, text: str) -> dict[str, Any]:
    # Defence in depth: the grammar should make both checks unreachable.
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidTranslationError(f"system {system.name!r}: output is not JSON ({exc}): {text[:200]!r}") from exc
    validator = Draft202012Validator(system.schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path))
    if errors or not isinstance(document, dict):
        problems = (
            "; ".join(f"at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:3])
            or "not a JSON object"
        )
        raise InvalidTranslationError(f"system {system.name!r}: output breaks the schema: {problems}")
    return document
