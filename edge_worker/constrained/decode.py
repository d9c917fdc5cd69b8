"""Constrained decoding of one or many sequences, each with its own matcher and KV cache.

Per step: the model's forward pass is dispatched (`mx.async_eval`) and, while it runs, each sequence's next
token mask is computed on the host from its matcher (it only depends on tokens already fed). Tokens the
grammar forces (llguidance's `compute_ff_tokens`: keys, punctuation, closing brackets) are never sampled: a
single sequence feeds them with the sampled token in one forward pass (fast-forward); a batch of rows sharing a
prefix feeds each row up to BATCH_FEED of them a step, the step's tokens packed one after another
(shared_prefix.packed_step: no pad goes through the model's matmuls or the prefix's attention); a batch without a
shared prefix, or fast_forward=False, feeds them one per step like sampled ones. Several sequences decode as one
batch (mlx-lm's BatchKVCache: left-padded, one row per sequence, finished rows filtered out), the way mlx-lm's
BatchGenerator does (mlx_lm/generate.py, GenerationBatch). Rows that start from the same cached prompt prefix batch
together with that prefix held once (SharedPrefixBatchCache), and a row joining takes a finished row's slot in place;
a row from another prefix waits for the batch to drain.

A sequence with an ItemTracker never writes the same array item twice when it decodes alone: when an item
closes that repeats an earlier one under the system's key fields, the matcher (llguidance `rollback`) and the KV
cache (mlx-lm `trim_prompt_cache`) go back to before the item's "," and the array is closed there. A batch
shares one KV cache and cannot go back one row, so a repeat found there is left for the caller to drop.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import mlx.core as mx
import numpy as np
from mlx_lm.models.cache import can_trim_prompt_cache, trim_prompt_cache

from edge_worker.attention import routes
from edge_worker.constrained.duplicates import ItemTracker
from edge_worker.constrained.errors import ConstrainedGenerationError
from edge_worker.constrained.processor import SchemaConstraint
from edge_worker.constrained.shared_prefix import (
    SharedPrefix,
    SharedPrefixBatchCache,
    own_tokens,
    packed_step,
    prefix_arrays,
)
from edge_worker.model_thread import Cancelled

PREFILL_STEP = 2048
BATCH_FEED = 4  # tokens a batch row feeds at most per step: 8 measured no faster here (rows' own attention is padded)
HEAD_ON_LAST = ("mlx_lm.models.llama",)  # mlx-lm modules whose Model is `model.model`, then its output head only
Sampler = Callable[[mx.array], mx.array]


@dataclass
class Decoding:
    """One document to generate: `prompt` (at least one token) is what `cache` does not hold yet.

    After decode(): `tokens` (generated, forced ones included, no EOS), `error` when it did not complete.
    """

    prompt: list[int]
    cache: list[Any]
    constraint: SchemaConstraint
    tokens: list[int] = field(default_factory=list)
    forced: int = 0  # tokens taken from the grammar, not sampled
    forwards: int = 0  # forward passes this sequence took part in
    prefill_seconds: float = 0.0
    seconds: float = 0.0  # from the start of its prefill to its end (in a batch: shared with the other rows)
    started: float = 0.0  # time.perf_counter() when its prefill began
    error: Exception | None = None
    items: ItemTracker | None = None  # finds repeated array items (None: not looked for)
    duplicates_suppressed: int = 0  # repeated items rolled back while decoding
    prefix: SharedPrefix | None = None  # the cached prefix `cache` began as a copy of (None: its own prompt)
    _feed: deque[int] = field(default_factory=deque)  # consumed by the matcher, not yet fed to the model
    _forced_at: list[bool] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.error is not None or self.constraint.complete

    @property
    def text(self) -> str:
        return self.constraint.gtok.decode(self.tokens)

    def take(self, token: int, forced: bool = False) -> None:
        self.constraint.consume(token)
        self.tokens.append(token)
        self.forced += forced
        self._forced_at.append(forced)
        self._feed.append(token)
        if self.items is not None:
            self.items.feed(self.constraint.gtok.token_bytes[token])

    def close_repeated_item(self, fed: int) -> bool:
        """Undo the repeated item `items` found and close its array in its place; False when it cannot be undone.

        `fed`: how many of `tokens` the KV cache holds. The tokens from the one holding the item's "," on are
        rolled back (matcher and cache); that token's bytes before the "," and a "]" are taken as forced tokens.
        """
        assert self.items is not None and self.items.duplicate is not None
        comma, gtok = self.items.duplicate, self.constraint.gtok
        start = cut = 0
        while start + len(gtok.token_bytes[self.tokens[cut]]) <= comma:  # find the token holding the ","
            start += len(gtok.token_bytes[self.tokens[cut]])
            cut += 1
        closing = gtok.ll_tokenizer.tokenize_bytes(bytes(self.items.data[start:comma]) + b"]")
        if not can_trim_prompt_cache(self.cache) or not self.constraint.can_replace(len(self.tokens) - cut, closing):
            self.items.duplicate = None
            return False
        self.constraint.rollback(len(self.tokens) - cut)
        kept = min(cut, fed)
        trim_prompt_cache(self.cache, fed - kept)
        self._feed = deque(self.tokens[kept:cut])
        self.forced -= sum(self._forced_at[cut:])
        del self.tokens[cut:], self._forced_at[cut:]
        self.items = self.items.restarted(bytes(self.items.data[:start]))
        self.duplicates_suppressed += 1
        for token in closing:
            self.take(token, forced=True)
        return True

    def take_forced(self) -> None:
        """Consume what the grammar forces from here (nothing once the document is complete)."""
        if self.constraint.complete:
            return
        forced = self.constraint.forced_tokens()
        room = self.constraint.max_tokens - len(self.tokens)
        for token in forced[:room]:
            self.take(token, forced=True)


def decode(
    model: Any,
    sequences: Iterable[Decoding],
    *,
    batch_size: int = 1,
    fast_forward: bool = True,
    sampler: Sampler | None = None,
    checkpoint: Callable[[], bool] | None = None,
) -> None:
    """Generate every sequence to a complete document (or its own error), at most `batch_size` at a time.

    Sequences are taken from `sequences` only as the batch has room (continuous batching: a finished row is
    replaced by the next sequence), so a lazy iterable keeps only the active ones' KV caches in memory; the ones
    admitted together are prefilled one by one and join the batch in one merge. Rows of one batch share one cached
    prefix (Decoding.prefix, held once) when the model's attention allows it (edge_worker.attention.routes); a
    sequence of another prefix waits for the batch to drain. A batch left with one row and nothing waiting that
    could join it goes on alone, fast-forwarding again. A sequence that fails (budget exhausted, grammar error) gets
    `error` set and leaves the batch; the others go on. checkpoint is called before each prefill chunk and each step
    and may run short model work there; when it returns True, Cancelled is raised. Sampler: mlx-lm's (logprobs ->
    tokens), greedy when None.
    """
    waiting = _Waiting(sequences)
    if batch_size <= 1:
        while (seq := waiting.take()) is not None:
            if _start(model, seq, checkpoint):
                _decode_one(model, seq, fast_forward, sampler, checkpoint)
        return
    active: list[Decoding] = []
    keep: list[int] = []  # rows of `active` still going after the last step
    cache: list[Any] | None = None
    sharing = routes(model)
    shared: SharedPrefix | None = None
    while True:
        if not keep:
            active, cache = [], None
            following = waiting.peek()
            shared = following.prefix if sharing and following is not None else None
        fits = functools.partial(_fits, shared, sharing)
        joining = [
            (seq, _row(seq, shared)) for seq in _admitted(model, waiting, batch_size - len(keep), checkpoint, fits)
        ]
        if joining or len(keep) < len(active):
            cache, active = _regroup(cache, active, keep, joining, shared)
            if cache is not None:
                mx.eval([layer.state for layer in cache])
        if not active:
            return
        following = waiting.peek()
        if len(active) == 1 and fast_forward and (following is None or not fits(following)):
            seq = active[0]
            seq.cache = [layer.extract(0) for layer in cache or []]  # alone now: one row, multi-token forwards
            _decode_one(model, seq, fast_forward, sampler, checkpoint)
            keep = []
            continue
        most = BATCH_FEED if fast_forward and cache and hasattr(cache[0], "pad_rows") else 1
        keep = _step_batch(model, active, cache, sampler, checkpoint, most)


def _fits(shared: SharedPrefix | None, sharing: bool, seq: Decoding) -> bool:
    """Whether `seq` can join a batch whose rows share `shared` (None: rows holding their whole prompt)."""
    if shared is None:
        return not sharing or seq.prefix is None
    return seq.prefix is not None and seq.prefix.cache is shared.cache and seq.prefix.length >= shared.length


class _Waiting:
    """The sequences not started yet, taken one by one; shows the next without starting it."""

    def __init__(self, sequences: Iterable[Decoding]) -> None:
        self._rest: Iterator[Decoding] = iter(sequences)
        self._next: list[Decoding] = []

    def take(self) -> Decoding | None:
        if self._next:
            return self._next.pop()
        return next(self._rest, None)

    def peek(self) -> Decoding | None:
        """The sequence `take` gives next, left waiting."""
        if not self._next:
            following = next(self._rest, None)
            if following is None:
                return None
            self._next.append(following)
        return self._next[-1]


def _admitted(
    model: Any,
    waiting: _Waiting,
    room: int,
    checkpoint: Callable[[], bool] | None,
    fits: Callable[[Decoding], bool],
) -> Iterator[Decoding]:
    """Up to `room` waiting sequences that fit the batch, in order, each prefilled as it is reached (those already
    complete or failed are not given)."""
    given = 0
    while given < room:
        seq = waiting.peek()
        if seq is None or not fits(seq):
            return
        waiting.take()
        if _start(model, seq, checkpoint):
            given += 1
            yield seq


def _row(seq: Decoding, shared: SharedPrefix | None) -> list[Any]:
    """The sequence's tokens for a batch row, a KVCache a layer: with `shared`, a copy of those after the shared
    prefix, evaluated so that the sequence's own cache is freed before the next prefill."""
    row, seq.cache = seq.cache, []  # the batch holds its row from now on
    if shared is None:
        return row
    own = [own_tokens(layer, shared.length) for layer in row]
    mx.eval([(layer.keys, layer.values) for layer in own])
    return own


def _regroup(
    cache: list[Any] | None,
    active: list[Decoding],
    keep: list[int],
    joining: list[tuple[Decoding, list[Any]]],
    shared: SharedPrefix | None,
) -> tuple[list[Any] | None, list[Decoding]]:
    """The batch (cache, its rows' sequences) once the rows of `active` not in `keep` have left and `joining`
    (sequence, `_row`) have come. A joining row takes a leaving row's slot in place where it fits (a cache with
    `place`), so neither the leaving row's filter nor the joining row's extend copies the batch; the rest leave
    in one filter and join in one merge."""
    going = set(keep)
    left = [index for index in range(len(active)) if index not in going]
    rows, active = list(joining), list(active)
    if cache and hasattr(cache[0], "place"):
        for index in list(left):
            found = next((at for at, (_, row) in enumerate(rows) if row[0].offset <= cache[0]._idx), None)
            if found is None:
                break
            seq, row = rows.pop(found)
            for layer, own in zip(cache, row, strict=True):
                layer.place(index, own)
            active[index] = seq
            left.remove(index)
    if left:
        kept = [index for index in range(len(active)) if index not in left]
        if kept:
            for layer in cache or []:
                layer.filter(kept)
        else:
            cache = None
        active = [active[index] for index in kept]
    if rows:
        cache = _join(cache, [row for _, row in rows], shared)
        active += [seq for seq, _ in rows]
    return cache, active


def _join(cache: list[Any] | None, rows: list[list[Any]], shared: SharedPrefix | None) -> list[Any]:
    """The batch's cache with `rows` (from `_row`) added: one merge of them (mlx-lm's, per cache type), then one
    extend of the batch, so rows joining together copy the batch once; with `shared`, the prefix's arrays are made
    once a batch."""
    merged = [layer[0].merge(list(layer)) for layer in zip(*rows, strict=True)]  # each cache type's own batch
    if shared is not None:
        prefix = (
            [(layer.prefix_keys, layer.prefix_values) for layer in cache]
            if cache
            else [prefix_arrays(layer, shared.length) for layer in shared.cache]
        )
        merged = [SharedPrefixBatchCache.of_own(*arrays, own) for arrays, own in zip(prefix, merged, strict=True)]
    if cache is None:
        return merged
    for layer, extra in zip(cache, merged, strict=True):
        layer.extend(extra)
    return cache


def _start(model: Any, seq: Decoding, checkpoint: Callable[[], bool] | None) -> bool:
    """Prefill the sequence's prompt but its last token, and take the tokens the grammar forces first.

    False when the sequence is already complete or failed."""
    seq.started = time.perf_counter()
    _prefill(model, seq.cache, seq.prompt[:-1], checkpoint)
    seq._feed.append(seq.prompt[-1])
    seq.prefill_seconds = time.perf_counter() - seq.started
    _guarded(seq, seq.take_forced)
    return not _finish(seq)


def _decode_one(
    model: Any,
    seq: Decoding,
    fast_forward: bool,
    sampler: Sampler | None,
    checkpoint: Callable[[], bool] | None,
) -> None:
    metal = bool(seq.constraint.metal)
    while True:
        _check(checkpoint, seq)
        feed = list(seq._feed) if fast_forward else [seq._feed[0]]
        for _ in feed:
            seq._feed.popleft()
        logits = last_logits(model, mx.array(feed)[None], seq.cache)
        mx.async_eval(logits)  # the mask below is computed while the forward pass runs
        seq.forwards += 1
        if seq._feed:
            continue  # the next token is already known (forced)
        bitmask = seq.constraint.next_mask()
        token = _sample(logits, bitmask, seq.constraint.gtok.vocab_size, metal, sampler)[0]
        _guarded(seq, functools.partial(_advance, seq, token, alone=True))
        if _finish(seq):
            return


def _step_batch(
    model: Any,
    active: list[Decoding],
    cache: Any,
    sampler: Sampler | None,
    checkpoint: Callable[[], bool] | None,
    most: int = 1,
) -> list[int]:
    """One forward pass of every row, each feeding up to `most` of its known tokens (more than one needs a cache
    with `pad_rows`); returns the rows still going."""
    _check(checkpoint, active[0])
    feeds = [[seq._feed.popleft() for _ in range(min(most, len(seq._feed)))] for seq in active]
    if hasattr(cache[0], "pad_rows"):
        lengths = [len(feed) for feed in feeds]
        inputs = mx.array([token for feed in feeds for token in feed])[:, None]
        logits = last_logits(model, inputs, packed_step(cache, lengths), mx.array(np.cumsum(lengths) - 1))
    else:
        logits = last_logits(model, mx.array(feeds), cache)
    mx.async_eval(logits)
    rows = [index for index, seq in enumerate(active) if not seq._feed]
    for seq in active:
        seq.forwards += 1
    if rows:
        masks = np.concatenate([active[index].constraint.next_mask() for index in rows])
        picked = logits[mx.array(rows)] if len(rows) < len(active) else logits
        tokens = _sample(picked, masks, active[0].constraint.gtok.vocab_size, bool(active[0].constraint.metal), sampler)
        for index, token in zip(rows, tokens, strict=True):
            seq = active[index]
            _guarded(seq, functools.partial(_advance, seq, token))
    return [index for index, seq in enumerate(active) if not _finish(seq)]


def last_logits(model: Any, inputs: mx.array, cache: list[Any], last: mx.array | None = None) -> mx.array:
    """The logits (rows, vocab) at the last position of each row of `inputs` (rows, width), the cache extended
    with all of them; or, with `last` (rows,), inputs packed (T, 1) and at each row's last token, inputs[last].
    For the modules of HEAD_ON_LAST the output head runs on those positions only (SmolLM2-135M's head took 49 ms
    over a 16-row step's 64 positions here, 30 ms over its 16 last); other models compute every position's."""
    if (inputs.shape[1] > 1 or last is not None) and type(model).__module__ in HEAD_ON_LAST:
        hidden = model.model(inputs, cache)[:, -1, :]
        head = model.model.embed_tokens.as_linear if model.args.tie_word_embeddings else model.lm_head
        return head(hidden if last is None else hidden[last])
    logits = model(inputs, cache=cache)[:, -1, :]
    return logits if last is None else logits[last]


def _advance(seq: Decoding, token: int, alone: bool = False) -> None:
    """Take a sampled token and what the grammar forces after it; alone (the sequence owns its KV cache, which
    holds every token taken before), a repeated array item is rolled back and its array closed."""
    fed = len(seq.tokens)
    seq.take(token)
    seq.take_forced()
    if seq.items is not None and seq.items.duplicate is not None:
        if alone and seq.close_repeated_item(fed):
            seq.take_forced()
        seq.items.duplicate = None  # in a batch: left in the document for the caller to drop and count


def _finish(seq: Decoding) -> bool:
    """True when the sequence is complete or failed; a sequence out of budget fails here."""
    if not seq.done and len(seq.tokens) >= seq.constraint.max_tokens:
        seq.error = ConstrainedGenerationError(
            f"system {seq.constraint.system!r}: output did not complete within {seq.constraint.max_tokens} "
            f"tokens: {seq.text[-120:]!r}"
        )
    if seq.done:
        seq.seconds = time.perf_counter() - seq.started
        seq.cache = []  # its KV cache is of no further use: free it now, not when the caller drops the sequence
        return True
    return False


def _guarded(seq: Decoding, step: Callable[[], None]) -> None:
    try:
        step()
    except ConstrainedGenerationError as error:
        seq.error = error


def _check(checkpoint: Callable[[], bool] | None, seq: Decoding) -> None:
    if checkpoint is not None and checkpoint():
        raise Cancelled(f"generation stopped after {len(seq.tokens)} tokens")


def _prefill(model: Any, cache: list[Any], tokens: list[int], checkpoint: Callable[[], bool] | None) -> None:
    for start in range(0, len(tokens), PREFILL_STEP):
        if checkpoint is not None and checkpoint():
            raise Cancelled(f"prefill stopped after {start} tokens")
        model(mx.array(tokens[start : start + PREFILL_STEP])[None], cache=cache)
        mx.eval([c.state for c in cache])


def masked_rows(logits: mx.array, bitmask: np.ndarray, vocab_size: int, metal: bool) -> mx.array:
    """`logits` (rows, vocab) with what each bitmask row (int32 words) disallows at -inf, unpacked inside MLX."""
    if metal:
        import llguidance.mlx

        return llguidance.mlx.apply_token_bitmask(logits, bitmask)
    words = mx.array(bitmask.view(np.uint32))
    bits = mx.arange(32, dtype=mx.uint32)  # made on the calling (model) thread, like every MLX array here
    allowed = ((words[:, :, None] >> bits) & 1).reshape(words.shape[0], -1)
    vocab = logits.shape[-1]
    if allowed.shape[1] < vocab:
        allowed = mx.concatenate([allowed, mx.zeros((allowed.shape[0], vocab - allowed.shape[1]), allowed.dtype)], 1)
    return mx.where(allowed[:, :vocab].astype(mx.bool_), logits, mx.array(-mx.inf, dtype=logits.dtype))


def _sample(logits: mx.array, bitmask: np.ndarray, vocab_size: int, metal: bool, sampler: Sampler | None) -> list[int]:
    masked = masked_rows(logits, bitmask, vocab_size, metal)
    if sampler is None:
        chosen = mx.argmax(masked, axis=-1)
    else:
        chosen = sampler(masked - mx.logsumexp(masked, axis=-1, keepdims=True))
    return np.asarray(chosen).astype(np.int64).tolist()
