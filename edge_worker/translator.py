"""Translate summaries into one schema-valid JSON document per system with a local MLX model.

Each system's stable prompt part (instructions, schema outline, worked examples) is prefilled once per
(model version, prompt version, adapter) and its KV cache reused (edge_worker.prefix_cache); a summary costs only
its own tokens and the closing ones; a system with an adapter is prompted as the adapter was trained (`served`).
The (summary, system) pairs of a call decode together in batches, a batch holding only pairs whose systems use the
same LoRA adapter (or none).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import shlex
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import mlx.core as mx
from mlx_lm.models.cache import make_prompt_cache
from mlx_lm.sample_utils import make_sampler
from pydantic import BaseModel, ConfigDict

from edge_worker.activations import route_activations
from edge_worker.attention import route_attention
from edge_worker.constrained import SchemaConstraint, compile_schema, grammar_tokenizer
from edge_worker.constrained.budget import worst_case_tokens
from edge_worker.constrained.decode import PREFILL_STEP, Decoding, decode
from edge_worker.constrained.duplicates import ItemTracker
from edge_worker.constrained.shared_prefix import SharedPrefix
from edge_worker.jobs import TranslationJob, lineage_for
from edge_worker.logs import logger
from edge_worker.lora import Adapter, AdapterSwitch
from edge_worker.model_thread import Cancelled
from edge_worker.ports import ModelInfoLike, SystemLike
from edge_worker.prefix_cache import PrefixCaches
from edge_worker.prompting import (
    PromptFormatError,
    SystemPrompt,
    build_system_prompt,
    chat_format,
    prompt_version,
    served_system,
)
from edge_worker.quality.items import ItemKeys, drop_duplicates
from schemas.bullet_items import Part, merge
from schemas.lineage import content_version
from schemas.system_definition import default_systems_dir, output_validator

DEFAULT_BATCH = 8  # sequences decoded together; the worker may choose another size per call
SHARED_MIN = 16  # fewest shared tokens worth a prefill of their own
GRAMMAR_CACHE = 64  # compiled grammars kept (each system's own, and the latest narrowed for a summary)


class InvalidTranslationError(RuntimeError):
    """Constrained output that still failed JSON parsing or schema validation."""


class Lineage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    translator_model_version: str
    translator_prompt_version: str
    schema_version: str
    translator_adapter_version: str | None = None


class TranslationStats(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt_tokens_processed: int
    generated_tokens: int
    forced_tokens: int = 0  # of generated_tokens, taken from the grammar instead of sampled
    forward_passes: int = 0
    batch_size: int = 1
    seconds: float
    prefill_seconds: float = 0.0  # of seconds, prefilling its prompt tokens (a system prefix computed for it too)
    tokens_per_second: float
    host_seconds: float = 0.0  # matcher, masks and end-of-budget guard
    duplicates_suppressed: int = 0  # repeated array items rolled back while decoding (a sequence decoding alone)
    duplicates_dropped: int = 0  # repeated array items removed from the finished document (decoded in a batch)


class Translation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summary_id: str
    system: str
    document: dict[str, Any]
    lineage: Lineage
    stats: TranslationStats
    tokens: list[int] = []  # the generated token ids (greedy runs compare them across decoding paths)


class TranslationFailure(BaseModel):
    """One system of one summary that could not be translated; the other systems are not affected."""

    model_config = ConfigDict(extra="forbid")

    summary_id: str
    system: str
    error: str


Outcome = Translation | TranslationFailure


@dataclasses.dataclass
class _Started:
    """One part of a (job, system) pair as decoding started it. Building its sequence began at `began`
    (time.perf_counter()) and prefilled for `setup_prefill_seconds` (a system prefix computed for it, the prompt its
    pair's parts share) before its own prefill."""

    job: int
    system: int
    part: Part
    decoding: Decoding
    prompt_tokens: int
    began: float
    setup_prefill_seconds: float


def prefix_cache_dir() -> Path:
    """Where the edge keeps its systems' prefix KV caches: $SSP_HOME/prefix-cache."""
    from edge_worker.config import ssp_home

    return ssp_home() / "prefix-cache"


def model_version(model_info: ModelInfoLike) -> str:
    """The registry version of the translator model (content-addressed: model id and weights digest)."""
    return content_version("translator-model", model_info.registry_content())


def for_this_device(model: Any) -> Any:
    """The model as it runs fastest here: attention goes through edge_worker.attention and, on a CPU (no Metal),
    SwiGLU through edge_worker.activations and quantized layers are dequantized to float32.

    MLX's CPU quantized matmul is a scalar kernel (about 2.5x slower per prefill token than float32 here), and so
    is its exp (most of attention's and SwiGLU's time); on Apple GPUs the weights are left as they are.
    """
    route_attention(model)
    route_activations(model)
    if mx.metal.is_available() or not any(name.endswith("scales") for name in _parameter_names(model)):
        return model
    from mlx.utils import tree_map
    from mlx_lm.utils import dequantize_model

    model = dequantize_model(model)
    model.update(
        tree_map(lambda p: p.astype(mx.float32) if p.dtype in (mx.float16, mx.bfloat16) else p, model.parameters())
    )
    mx.eval(model.parameters())
    return model


def tune_command(system: SystemLike) -> str:
    """The command that trains an adapter for `system` as it is defined now (its own folder when not shipped)."""
    command = f"python -m edge_worker tune --system {system.name}"
    source = getattr(system, "source", None)
    if source is not None and Path(source).parent.resolve() != default_systems_dir().resolve():
        command += f" --systems-dir {shlex.quote(str(Path(source).parent))}"
    return command


def _parameter_names(model: Any) -> list[str]:
    from mlx.utils import tree_flatten

    return [str(entry[0]) for entry in tree_flatten(model.parameters())]


class Translator:
    """Summaries into per-system JSON documents; prefix caches per system, batched constrained decoding.

    `prefix_cache_dir`: where the systems' prefix KV caches persist (None: memory only).
    `max_tokens`: an optional cap below each system's max_output_tokens. `adopted`: reads system name -> adopted
    adapter version (edge_worker.model_store.adopted_adapters), asked before each call; `load_adapter` reads one
    (edge_worker.lora.load_adapter). Raises PromptFormatError at construction when the model's chat template
    cannot render the prompt.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        model_info: ModelInfoLike,
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        prefix_cache_dir: Path | None = None,
        batch_size: int = DEFAULT_BATCH,
        fast_forward: bool = True,
        adopted: Callable[[], Mapping[str, str]] | None = None,
        load_adapter: Callable[[str], Adapter] | None = None,
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.model_info = model_info
        self.model_version = model_version(model_info)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.fast_forward = fast_forward
        try:
            self.chat_format = chat_format(tokenizer)
        except PromptFormatError as error:  # refused at load, naming the model
            raise PromptFormatError(f"model {model_info.model_id}: {error}") from error
        self.gtok = grammar_tokenizer(tokenizer)
        self.prefixes = PrefixCaches(self.model_version, prefix_cache_dir)
        # Narrowed per summary (SystemDefinition.schema_for), so the compiled grammars are kept for the latest few.
        self._compiled = functools.lru_cache(maxsize=GRAMMAR_CACHE)(self._compile)
        self._prompts: dict[str, SystemPrompt] = {}
        self.adapters = AdapterSwitch(model)
        self._adopted_source = adopted
        self._load_adapter = load_adapter
        self._adopted: dict[str, str] = {}  # system -> adapter version applied to it
        self._refused: set[str] = set()  # adapter versions that could not be applied (reported once)
        self._unfit: set[tuple[str, str]] = set()  # (system, adapter) trained on another prompt (reported once)
        self._trial = False  # an adapter under try_adapter: the adoptions are not read until use_adapters
        self._prefill_seconds = 0.0  # spent in _prefill (system prefixes, prompts shared by a pair's parts)

    # ----- adapters -----
    def adapter_versions(self, systems: Sequence[SystemLike] = ()) -> Mapping[str, str]:
        """system name -> the adapter version this translator applies to it (systems not named use none), after
        reading the adoptions again. With `systems`, exactly those it applies to them (an adapter trained on
        another version of a system's prompt is not); without, every adoption not yet found unfit."""
        self.refresh_adapters()
        if systems:
            return {system.name: version for system in systems if (version := self._adapter_of(system))}
        return {system: version for system, version in self._adopted.items() if (system, version) not in self._unfit}

    def use_adapters(self, adopted: Mapping[str, str]) -> None:
        """Apply these adapters from now on (system -> version); an adapter made for another base model, or one
        that cannot be read, is refused with a logged warning and its system uses the base model."""
        self._trial = False
        usable: dict[str, str] = {}
        for system, version in adopted.items():
            if version not in self.adapters.adapters and version not in self._refused:
                try:
                    adapter = (self._load_adapter or self._stored_adapter)(version)
                    self.adapters.add(adapter)
                except Exception as error:
                    self._refused.add(version)
                    logger.warning("adapter not applied", system=system, adapter=version, problem=str(error))
            if version in self.adapters.adapters:
                usable[system] = version
        self.adapters.retain(set(usable.values()))
        self._adopted = usable

    def _stored_adapter(self, version: str) -> Adapter:
        """An adapter from $SSP_HOME/adapters; ModelStoreError when it was trained on another base model."""
        from edge_worker.lora import load_adapter
        from edge_worker.model_store import ModelStoreError, adapter_entry

        entry = adapter_entry(version)
        base = entry.get("base_model_version")
        if base != self.model_version:
            raise ModelStoreError(f"adapter {version} was trained on {base}, not on {self.model_version}")
        return dataclasses.replace(load_adapter(version), prompt_version=entry.get("translator_prompt_version"))

    def try_adapter(self, system: str, adapter: Adapter) -> None:
        """Apply `adapter` (read, not stored or adopted) to `system` alone until the next use_adapters call."""
        self.use_adapters({})
        self.adapters.add(adapter)
        self._adopted = {system: adapter.version}
        self._trial = True

    def served(self, system: SystemLike) -> SystemLike:
        """The system as this translator prompts it: in the prompt of the adapter applied to it (edge_worker.lora
        Adapter.prompt; a zero-shot adapter leaves the worked examples out), as defined otherwise. Its prompt
        version is the one records made with the adapter name in their lineage."""
        version = self._adapter_of(system)
        return served_system(system, self.adapters.adapters[version].prompt) if version else system

    def _adapter_of(self, system: SystemLike) -> str | None:
        """The adapter version applied to `system`: its adopted one unless that was trained on another version of
        the system's prompt (a changed definition), which is reported once and leaves the base model."""
        version = self._adopted.get(system.name)
        adapter = self.adapters.adapters.get(version) if version else None
        if adapter is None or version is None:
            return None
        current = prompt_version(served_system(system, adapter.prompt))
        if adapter.prompt_version in (None, current):
            self._unfit.discard((system.name, version))
            return version
        if (system.name, version) not in self._unfit:
            self._unfit.add((system.name, version))
            logger.warning(
                "adapter not applied: trained on another prompt version",
                system=system.name,
                adapter=version,
                trained_prompt_version=adapter.prompt_version,
                prompt_version=current,
                fix=tune_command(system),
            )
        return None

    def refresh_adapters(self) -> None:
        """Re-read the adopted adapters (a new adoption applies from the next call)."""
        if self._adopted_source is not None and not self._trial:
            adopted = dict(self._adopted_source())
            if adopted != self._adopted:
                self.use_adapters(adopted)

    # ----- public -----
    def translate(
        self,
        summary_id: str,
        summary_text: str,
        systems: Iterable[SystemLike],
        *,
        naive: bool = False,
        seed: int | None = None,
        checkpoint: Callable[[], bool] | None = None,
        batch_size: int | None = None,
        fast_forward: bool | None = None,
    ) -> list[Outcome]:
        """One summary for each system, in system order: a Translation, or a TranslationFailure naming the
        system and its problem (a schema that does not compile, a generation that fails).

        naive=True prefills each system's whole prompt, no cache (the comparison baseline). checkpoint is called
        before each prefill chunk and once per decoding step, and may run other short model work there; when it
        returns True, Cancelled is raised.
        """
        [outcomes] = self.translate_many(
            [TranslationJob(summary_id, summary_text, list(systems))],
            naive=naive,
            seed=seed,
            checkpoint=checkpoint,
            batch_size=batch_size,
            fast_forward=fast_forward,
        )
        return outcomes

    def translate_many(
        self,
        jobs: Sequence[TranslationJob],
        *,
        naive: bool = False,
        seed: int | None = None,
        checkpoint: Callable[[], bool] | None = None,
        batch_size: int | None = None,
        fast_forward: bool | None = None,
    ) -> list[list[Outcome]]:
        """Every (summary, system) pair of `jobs`, at most `batch_size` decoding together (a finished pair's place
        goes to the next one); outcomes per job, in order."""
        if seed is not None:
            mx.random.seed(seed)
        self.refresh_adapters()
        jobs = [dataclasses.replace(job, systems=[self.served(system) for system in job.systems]) for job in jobs]
        size = max(1, batch_size or self.batch_size)
        fast = self.fast_forward if fast_forward is None else fast_forward
        outcomes: list[list[Outcome | None]] = [[None] * len(job.systems) for job in jobs]
        groups: dict[str | None, list[tuple[int, int]]] = {}
        for j, job in enumerate(jobs):
            for s, system in enumerate(job.systems):
                if system.reads_nothing(job.summary_text):
                    outcomes[j][s] = self._empty(job, system)
                else:
                    groups.setdefault(self._adapter_of(system), []).append((j, s))
        for pairs in groups.values():  # a system's pairs in a row: a batch shares one system prefix
            pairs.sort(key=lambda pair: jobs[pair[0]].systems[pair[1]].name)
        try:
            for adapter, pairs in groups.items():
                self.adapters.apply(adapter)
                started = self._decode_pairs(jobs, pairs, outcomes, naive, checkpoint, size, fast)
                by_pair: dict[tuple[int, int], list[_Started]] = {}
                for entry in started:
                    by_pair.setdefault((entry.job, entry.system), []).append(entry)
                for j, s in pairs:
                    if outcomes[j][s] is not None:  # failed while building one of its parts
                        continue
                    decoded = by_pair.get((j, s))
                    outcomes[j][s] = (
                        self._outcome(jobs[j], jobs[j].systems[s], decoded, min(size, len(started)), adapter)
                        if decoded
                        else self._empty(jobs[j], jobs[j].systems[s])  # no bullet and no other list to decode
                    )
        finally:
            self.adapters.apply(None)  # other model work (the embedder) always sees the base model
        return [[outcome for outcome in row if outcome is not None] for row in outcomes]

    def _decode_pairs(
        self,
        jobs: Sequence[TranslationJob],
        pairs: list[tuple[int, int]],
        outcomes: list[list[Outcome | None]],
        naive: bool,
        checkpoint: Callable[[], bool] | None,
        size: int,
        fast: bool,
    ) -> list[_Started]:
        """Decode the pairs of one adapter group, each in its parts (SystemLike.parts_for); returns the parts
        started."""
        started: list[_Started] = []
        guarded = self._base_model_checkpoint(checkpoint)

        def sequences() -> Iterator[Decoding]:
            """Each part's sequence, built (its prefix cache copied) only when the batch has room for it."""
            for j, s in pairs:
                job, system = jobs[j], jobs[j].systems[s]
                try:
                    began, prefilled = time.perf_counter(), self._prefill_seconds
                    parts = system.parts_for(job.summary_text)
                    shared, extra = self._shared_prefix(system, parts, guarded) if not naive else (None, 0)
                    for part in parts:
                        decoding, prompt_tokens = self._decoding(part, system, naive, guarded, shared)
                        setup = self._prefill_seconds - prefilled
                        started.append(_Started(j, s, part, decoding, prompt_tokens + extra, began, setup))
                        yield decoding
                        extra, began, prefilled = 0, time.perf_counter(), self._prefill_seconds
                except Cancelled:
                    raise
                except Exception as error:  # this pair only: a schema that does not compile, a bad prompt
                    outcomes[j][s] = _failure(job, system, error)

        decode(
            self.model,
            sequences(),
            batch_size=size,
            fast_forward=fast,
            sampler=make_sampler(temp=self.temperature) if self.temperature > 0 else None,
            checkpoint=guarded,
        )
        return started

    def _base_model_checkpoint(self, checkpoint: Callable[[], bool] | None) -> Callable[[], bool] | None:
        """`checkpoint` run with no adapter applied (it may use the model for other work), then the adapter back."""
        active = self.adapters.active
        if checkpoint is None or active is None:
            return checkpoint

        def guarded() -> bool:
            self.adapters.apply(None)
            try:
                return checkpoint()
            finally:
                self.adapters.apply(active)

        return guarded

    def prepare(
        self, systems: Iterable[SystemLike], *, checkpoint: Callable[[], bool] | None = None
    ) -> list[TranslationFailure]:
        """Compile the systems' grammars and prefill their prompt prefixes now (or read them from disk), and
        delete prefix caches no current system uses. Returns the systems that cannot be translated.

        checkpoint: as for translate (between prefill chunks); Cancelled when it returns True."""
        failures, versions = [], set()
        self.refresh_adapters()
        try:
            for system in map(self.served, systems):
                try:
                    self._grammar(system)
                    prompt = self._prompt(system)
                    self.adapters.apply(self._adapter_of(system))
                    key = self._cache_key(system)
                    prefill = functools.partial(self._prefill, checkpoint=self._base_model_checkpoint(checkpoint))
                    self.prefixes.get(key, prompt.prefix_tokens, prefill)
                    versions.add(key)
                except Cancelled:
                    raise
                except Exception as error:
                    failures.append(TranslationFailure(summary_id="", system=system.name, error=str(error)))
        finally:
            self.adapters.apply(None)
        self.prefixes.retain(versions)
        return failures

    def prompt_for(self, system: SystemLike) -> SystemPrompt:
        """The system's prompt over this model's tokenizer."""
        return self._prompt(system)

    def prefix_cache(self, system: SystemLike, summary_text: str) -> tuple[list[Any], list[int]]:
        """A private copy of the system's prefix KV cache, cut to what the summary's prompt shares with it, and
        the prompt tokens still to prefill (for comparisons that decode with other decoders)."""
        system = self.served(system)
        prompt = self._prompt(system)
        self.adapters.apply(self._adapter_of(system))
        try:
            cache = self.prefixes.copy_of(self._cache_key(system), prompt.prefix_tokens, self._prefill)
        finally:
            self.adapters.apply(None)
        reused, rest = prompt.summary_tokens(summary_text)
        for layer in cache:
            layer.trim(len(prompt.prefix_tokens) - reused)
        return cache, rest

    def check(self, system: SystemLike) -> str | None:
        """Why `system` cannot be translated with this model, or None: a schema llguidance cannot compile, or a
        budget (max_output_tokens) too small for the smallest valid document."""
        system = self.served(system)
        try:
            grammar, worst_case = self._grammar(system)
            budget = self._budget(system)
            SchemaConstraint(self.gtok, grammar, max_tokens=budget, system=system.name, worst_case_tokens=worst_case)
        except Exception as error:  # the constraint's own errors name the system and the problem
            return str(error)
        return None

    def grammar_for(self, system: SystemLike) -> str:
        """The system's compiled llguidance grammar (cached per schema)."""
        return self._grammar(system)[0]

    def budget_for(self, system: SystemLike) -> int:
        """The most tokens a document of this system may take here."""
        return self._budget(system)

    # ----- internals -----
    def _shared_prefix(
        self, system: SystemLike, parts: Sequence[Part], checkpoint: Callable[[], bool] | None
    ) -> tuple[tuple[int, list[Any], SharedPrefix | None] | None, int]:
        """((tokens, cache, system prefix it starts with), tokens prefilled now): the cache of what the prompts of a
        pair's parts share past the system prefix (the summary's Overview and People), prefilled once for all of
        them; (None, 0) for one part or under SHARED_MIN tokens shared."""
        if len(parts) < 2:
            return None, 0
        prompt = self._prompt(system)
        shared = prompt.shared_tokens([part.summary for part in parts])
        reused = min(len(shared), prompt.summary_tokens(parts[0].summary)[0])  # less when merged at the boundary
        if len(shared) - reused < SHARED_MIN:
            return None, 0
        computed = self.prefixes.prefilled
        prefix, cache = self._system_prefix(system, checkpoint)
        for layer in cache:
            layer.trim(len(prompt.prefix_tokens) - reused)
        self._prefill(shared[reused:], checkpoint, cache)
        prefilled = len(shared) - reused + (len(prompt.prefix_tokens) if self.prefixes.prefilled > computed else 0)
        return (len(shared), cache, SharedPrefix(prefix, reused) if reused else None), prefilled

    def _system_prefix(self, system: SystemLike, checkpoint: Callable[[], bool] | None) -> tuple[list[Any], list[Any]]:
        """The system prefix's shared KV cache and a private copy of it (computed when needed)."""
        prompt = self._prompt(system)
        prefix = self.prefixes.get(
            self._cache_key(system), prompt.prefix_tokens, lambda tokens: self._prefill(tokens, checkpoint)
        )
        return prefix, copy.deepcopy(prefix)

    def _decoding(
        self,
        part: Part,
        system: SystemLike,
        naive: bool,
        checkpoint: Callable[[], bool] | None,
        shared: tuple[int, list[Any], SharedPrefix | None] | None = None,
    ) -> tuple[Decoding, int]:
        """The sequence for one part of a pair, and the prompt tokens it prefills (its prefix too, when computed
        now); with `shared` (_shared_prefix) it starts from a copy of that cache."""
        grammar, worst_case = self._grammar(system, part.schema)
        budget = self._budget(system)
        constraint = SchemaConstraint(
            self.gtok, grammar, max_tokens=budget, system=system.name, worst_case_tokens=worst_case
        )
        prompt = self._prompt(system)
        tokens = prompt.full_tokens(part.summary)  # tokenized once: checked, then cut below
        self._check_context(system, tokens, budget)
        items = ItemTracker(ItemKeys.of(system).key)
        if naive:
            return Decoding(tokens, make_prompt_cache(self.model), constraint, items=items), len(tokens)
        if shared is not None:
            length, cache, prefix = shared
            rest = tokens[length:]
            return Decoding(rest, copy.deepcopy(cache), constraint, items=items, prefix=prefix), len(rest)
        computed = self.prefixes.prefilled
        held, cache = self._system_prefix(system, checkpoint)
        extra = len(prompt.prefix_tokens) if self.prefixes.prefilled > computed else 0
        reused, rest = prompt.cut(tokens)
        if reused < len(prompt.prefix_tokens):  # the tokenizer merged across the boundary: drop what differs
            for layer in cache:
                layer.trim(len(prompt.prefix_tokens) - reused)
        prefix = SharedPrefix(held, reused) if reused else None
        return Decoding(rest, cache, constraint, items=items, prefix=prefix), len(rest) + extra

    def _outcome(
        self,
        job: TranslationJob,
        system: SystemLike,
        decoded: Sequence[_Started],
        batch: int,
        adapter: str | None = None,
    ) -> Outcome:
        """The pair's document from its decoded parts, checked against the system's schema, with their stats
        summed."""
        documents = []
        for started in decoded:
            if started.decoding.error is not None:
                return _failure(job, system, started.decoding.error)
            try:
                documents.append((started.part, _checked_document(system, started.decoding.text)))
            except InvalidTranslationError as error:
                return _failure(job, system, error)
        document, over = merge(system.schema, documents) if len(documents) > 1 else (documents[0][1], 0)
        if over:
            logger.warning(
                "items past a list's maxItems left out", system=system.name, summary_id=job.summary_id, items=over
            )
        deduplicated, dropped = drop_duplicates(document, ItemKeys.of(system))
        if dropped and _schema_errors(system, deduplicated):  # e.g. minItems: keep the document as generated
            dropped = 0
        document = deduplicated if dropped else document
        if dropped:
            logger.warning(
                "repeated items dropped from a translation",
                system=system.name,
                summary_id=job.summary_id,
                items=dropped,
            )
        decodings = [started.decoding for started in decoded]
        tokens = [token for decoding in decodings for token in decoding.tokens]
        # Parts may decode side by side in one batch: the pair took from its first part's building to its last end.
        seconds = max(d.started + d.seconds for d in decodings) - min(started.began for started in decoded)
        prefill = sum(d.prefill_seconds for d in decodings) + sum(started.setup_prefill_seconds for started in decoded)
        decode_seconds = max(seconds - prefill, 1e-9)
        return Translation(
            summary_id=job.summary_id,
            system=system.name,
            document=document,
            tokens=tokens,
            lineage=Lineage(**lineage_for(system, self.model_version, adapter)),
            stats=TranslationStats(
                prompt_tokens_processed=sum(started.prompt_tokens for started in decoded),
                generated_tokens=len(tokens),
                forced_tokens=sum(decoding.forced for decoding in decodings),
                forward_passes=sum(decoding.forwards for decoding in decodings),
                batch_size=batch,
                seconds=round(seconds, 4),
                prefill_seconds=round(prefill, 4),
                tokens_per_second=round(len(tokens) / decode_seconds, 2),
                host_seconds=round(sum(decoding.constraint.mask_seconds for decoding in decodings), 6),
                duplicates_suppressed=sum(decoding.duplicates_suppressed for decoding in decodings),
                duplicates_dropped=dropped,
            ),
        )

    def _empty(self, job: TranslationJob, system: SystemLike) -> Translation:
        """The system's empty document for a summary whose sections it reads all say "None." (no model run); its
        lineage is the one a generated document would have, so reconcile sees it as current."""
        return Translation(
            summary_id=job.summary_id,
            system=system.name,
            document=system.empty_document(),
            lineage=Lineage(**lineage_for(system, self.model_version, self._adapter_of(system))),
            stats=TranslationStats(prompt_tokens_processed=0, generated_tokens=0, seconds=0.0, tokens_per_second=0.0),
        )

    def _cache_key(self, system: SystemLike) -> str:
        """The prefix cache's key: the prompt version, and the adapter that computed the cache when there is one."""
        adapter = self._adapter_of(system)
        version = prompt_version(system)
        return f"{version}@{adapter}" if adapter else version

    def _grammar(self, system: SystemLike, schema: dict[str, Any] | None = None) -> tuple[str, int | None]:
        """The compiled grammar of `schema` (default: the system's) and its worst case in tokens, cached."""
        schema = system.schema if schema is None else schema
        return self._compiled(json.dumps(schema), system.name)  # key order kept: it is the output order

    def _compile(self, schema_text: str, system_name: str) -> tuple[str, int | None]:
        schema = json.loads(schema_text)
        return compile_schema(schema, self.gtok, system=system_name), worst_case_tokens(schema)

    def _prompt(self, system: SystemLike) -> SystemPrompt:
        version = prompt_version(system)
        prompt = self._prompts.get(version)
        if prompt is None:
            prompt = self._prompts[version] = build_system_prompt(self.tokenizer, system, self.chat_format)
        return prompt

    def _prefill(
        self, tokens: list[int], checkpoint: Callable[[], bool] | None = None, cache: list[Any] | None = None
    ) -> list[Any]:
        """`cache` (a new one when None) extended with `tokens`, PREFILL_STEP at a time; Cancelled by `checkpoint`."""
        cache = make_prompt_cache(self.model) if cache is None else cache
        for start in range(0, len(tokens), PREFILL_STEP):
            if checkpoint is not None and checkpoint():
                raise Cancelled(f"prefix prefill stopped after {start} tokens")
            began = time.perf_counter()
            self.model(mx.array(tokens[start : start + PREFILL_STEP])[None], cache=cache)
            mx.eval([c.state for c in cache])
            self._prefill_seconds += time.perf_counter() - began
        return cache

    def _check_context(self, system: SystemLike, prompt_tokens: list[int], budget: int) -> None:
        """Raise ValueError when the prompt plus the output budget exceeds the model's context window
        (`max_position_embeddings` of its config; no check when the model does not say)."""
        window = getattr(getattr(self.model, "args", None), "max_position_embeddings", None)
        if isinstance(window, int) and len(prompt_tokens) + budget > window:
            raise ValueError(
                f"the prompt is {len(prompt_tokens)} tokens (the system's instructions and examples, and the "
                f"summary) and the output may take {budget}: more than the model's context of {window} tokens; "
                "shorten the summary"
            )

    def _budget(self, system: SystemLike) -> int:
        limit = system.max_output_tokens
        return min(limit, self.max_tokens) if self.max_tokens else limit


def _failure(job: TranslationJob, system: SystemLike, error: BaseException) -> TranslationFailure:
    message = str(error)
    if system.name not in message:
        message = f"system {system.name!r}: {message}"
    return TranslationFailure(summary_id=job.summary_id, system=system.name, error=message)


def _schema_errors(system: SystemLike, document: Any) -> list[Any]:
    validator = output_validator(system.schema)
    return sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path))


def _checked_document(system: SystemLike, text: str) -> dict[str, Any]:
    # Defence in depth: the grammar should make both checks unreachable.
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidTranslationError(f"system {system.name!r}: output is not JSON ({exc}): {text[:200]!r}") from exc
    errors = _schema_errors(system, document)
    if errors or not isinstance(document, dict):
        problems = (
            "; ".join(f"at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:3])
            or "not a JSON object"
        )
        raise InvalidTranslationError(f"system {system.name!r}: output breaks the schema: {problems}")
    return document


__all__ = [
    "Lineage",
    "Outcome",
    "Translation",
    "TranslationFailure",
    "TranslationStats",
    "Translator",
    "for_this_device",
    "model_version",
    "prefix_cache_dir",
]
