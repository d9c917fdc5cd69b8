"""A shared-prefix batch fed rows of different lengths in one step, padded to the longest or packed: each row's
logits are the ones it gets alone, through later steps, a row leaving, a row joining and a row taken out to go on
alone. The batch's logits come from decode's `last_logits` (the output head on each row's last position only), the
rows' alone from the whole model."""

from __future__ import annotations

import copy
import gc

import mlx.core as mx
import pytest
from mlx_lm.models.cache import KVCache, make_prompt_cache

from edge_worker.constrained.decode import HEAD_ON_LAST, last_logits
from edge_worker.constrained.shared_prefix import SharedPrefixBatchCache, own_tokens, packed_step
from edge_worker.translator import for_this_device

PREFIX = [5, 9, 14, 3, 22, 7, 31, 12, 8, 40, 2, 17]
OWN = [[4, 11, 6], [19], [23, 1, 30, 13, 9]]


@pytest.fixture(scope="module")
def model(tiny_model):
    return for_this_device(tiny_model.model)


def _last(model, tokens: list[int], cache) -> mx.array:
    return model(mx.array(tokens)[None], cache=cache)[0, -1]


def _prefix_and_rows(model) -> tuple[list[KVCache], list[list[KVCache]]]:
    """The cache of PREFIX and, for each of OWN, a copy of it that went on with those tokens."""
    prefix = make_prompt_cache(model)
    model(mx.array(PREFIX)[None], cache=prefix)
    rows = []
    for own in OWN:
        row = copy.deepcopy(prefix)
        model(mx.array(own)[None], cache=row)
        rows.append(row)
    return prefix, rows


def _ragged(model, feeds: list[list[int]], batch: list[SharedPrefixBatchCache], packed: bool) -> mx.array:
    """One step feeding row b the tokens feeds[b], as decode packs them or as rows left-padded to the longest: the
    last position's logits per row."""
    lengths = [len(feed) for feed in feeds]
    if packed:
        inputs = mx.array([token for feed in feeds for token in feed])[:, None]
        return last_logits(model, inputs, packed_step(batch, lengths), mx.cumsum(mx.array(lengths)) - 1)
    width = max(lengths)
    padding = [width - length for length in lengths]
    if any(padding):
        for layer in batch:
            layer.pad_rows(padding, width)
    inputs = mx.array([[0] * pad + feed for feed, pad in zip(feeds, padding, strict=True)])
    return last_logits(model, inputs, batch)


def _close(batched: mx.array, alone: list[mx.array]) -> bool:
    return mx.allclose(batched, mx.stack(alone), atol=1e-4).item()


@pytest.mark.parametrize("packed", [True, False])
def test_rows_of_different_lengths_in_one_step_get_their_own_logits(model, packed):
    assert type(model).__module__ in HEAD_ON_LAST  # the head runs on the last position only
    prefix, rows = _prefix_and_rows(model)
    batch = [SharedPrefixBatchCache.of_rows(layer, len(PREFIX), [rows[0][i]]) for i, layer in enumerate(prefix)]
    for row in rows[1:]:  # rows join one by one, as decode admits them
        for i, layer in enumerate(batch):
            layer.extend(SharedPrefixBatchCache.of_rows(prefix[i], len(PREFIX), [row[i]]))
    alone = [copy.deepcopy(row) for row in rows]

    for feeds in ([[7, 8, 9], [10], [11, 12]], [[3], [4, 5, 6, 7], [8]], [[2], [3], [4]]):
        batched = _ragged(model, feeds, batch, packed)
        assert _close(batched, [_last(model, feed, row) for feed, row in zip(feeds, alone, strict=True)])
    assert batch[0].holes is not None and batch[0].holes.sum() == 9  # 0 + 2 + 1, then 3 + 0 + 3 pads

    for layer in batch:  # the longest row finishes: the others' left padding shrinks, holes shift with it
        layer.filter([0, 1])
    del alone[2]
    assert batch[0].left_padding.tolist() == [0, 2]
    feeds = [[6, 1], [9]]
    assert _close(
        _ragged(model, feeds, batch, packed), [_last(model, feed, row) for feed, row in zip(feeds, alone, strict=True)]
    )

    joining = copy.deepcopy(prefix)
    model(mx.array([21, 3])[None], cache=joining)
    for i, layer in enumerate(batch):
        layer.extend(SharedPrefixBatchCache.of_rows(prefix[i], len(PREFIX), [joining[i]]))
    alone.append(joining)
    feeds = [[5], [2, 2, 7], [6]]
    assert _close(
        _ragged(model, feeds, batch, packed), [_last(model, feed, row) for feed, row in zip(feeds, alone, strict=True)]
    )

    taken = [layer.extract(1) for layer in batch]  # holes left out: the row's own cache, as if it had gone alone
    assert taken[0].offset == alone[1][0].offset
    assert _close(_last(model, [4, 8], taken)[None], [_last(model, [4, 8], alone[1])])


@pytest.mark.parametrize("start", [0, 2000])
def test_a_rows_own_tokens_keep_none_of_its_cache_alive(start):
    """A row joining a batch keeps its tokens after the shared prefix; the rest of its cache (the prefix copy, the
    room to grow) must be freed once the row's cache is dropped, or each joining row holds a whole prefix."""
    gc.collect()
    before = mx.get_active_memory()
    row = KVCache()
    row.update_and_fetch(mx.random.normal((1, 3, 2100, 64)), mx.random.normal((1, 3, 2100, 64)))
    mx.eval(row.keys, row.values)
    whole = mx.get_active_memory() - before
    own = own_tokens(row, start)
    mx.eval(own.keys, own.values)
    assert own.offset == 2100 - start and own.keys.shape == (1, 3, 2100 - start, 64)
    assert mx.array_equal(own.keys, row.keys[..., start:2100, :]) and mx.array_equal(
        own.values, row.values[..., start:2100, :]
    )
    del row
    gc.collect()
    held = mx.get_active_memory() - before
    assert held <= own.keys.nbytes + own.values.nbytes + whole // 10, (held, whole)


@pytest.mark.parametrize("packed", [True, False])
def test_a_joining_row_takes_a_leaving_rows_slot_in_place(model, packed):
    """A row given a finished row's slot (`place`) gets the logits it gets alone, and so do the rows around it; a
    row longer than the batch's slots is refused, naming the sizes."""
    prefix, rows = _prefix_and_rows(model)
    batch = [
        SharedPrefixBatchCache.of_rows(layer, len(PREFIX), [row[i] for row in rows]) for i, layer in enumerate(prefix)
    ]
    alone = [copy.deepcopy(row) for row in rows]
    feeds = [[7, 8], [10], [11, 12, 13]]  # holes in rows 0 and 1
    _ragged(model, feeds, batch, packed)
    for feed, row in zip(feeds, alone, strict=True):
        _last(model, feed, row)

    joining = copy.deepcopy(prefix)
    model(mx.array([21, 3])[None], cache=joining)
    for layer, row_layer in zip(batch, joining, strict=True):  # row 1 is done; its token 19 and a hole stay
        layer.place(1, own_tokens(row_layer, len(PREFIX)))
    alone[1] = joining
    assert batch[0].left_padding.tolist()[1] == batch[0]._idx - 2
    for feeds in ([[5], [2, 2, 7], [6]], [[3, 1], [9], [4]]):
        assert _close(
            _ragged(model, feeds, batch, packed),
            [_last(model, feed, row) for feed, row in zip(feeds, alone, strict=True)],
        )
    taken = [layer.extract(1) for layer in batch]
    assert _close(_last(model, [4, 8], taken)[None], [_last(model, [4, 8], alone[1])])

    too_long = copy.deepcopy(prefix)
    model(mx.array(list(range(1, batch[0]._idx + 2)))[None], cache=too_long)
    with pytest.raises(ValueError, match="does not fit"):
        batch[0].place(0, own_tokens(too_long[0], len(PREFIX)))
