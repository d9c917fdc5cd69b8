"""SmolLM2-135M-Instruct (the prepared default model) translating summaries for every shipped system.

Each system's prompt prefix is prefilled once per (model, prompt) version and kept under
$SSP_HOME/prefix-cache, as the worker keeps it, so only a fresh machine pays for it (about a minute here).
"""

from __future__ import annotations

import pytest

from edge_worker import attention
from edge_worker.constrained.shared_prefix import SharedPrefixBatchCache
from edge_worker.jobs import TranslationJob
from edge_worker.model_store import load_model, prepare_default_model
from edge_worker.translator import Translation, Translator, for_this_device, prefix_cache_dir
from schemas.system_definition import load_systems

SUMMARY = (
    "Session on Monday 17 March 2025 (user in Berlin, UTC+01:00). The user promised Priya Nair to send "
    "the revised budget spreadsheet by Wednesday 19 March. They booked a budget review with Priya on "
    "Thursday 20 March at 10:00. They decided to cut the travel budget by ten percent. They want a "
    "reminder every weekday at 08:30 to check email, and to build a habit of a daily 20-minute walk."
)
SHORT = "Session on 2 May 2025. The user will call Carmen on Friday at 19:30."
SYSTEMS = ("planner", "synapse", "nudge")


@pytest.fixture(scope="module")
def translator():
    model, tokenizer, info = load_model(str(prepare_default_model()))
    return Translator(for_this_device(model), tokenizer, info, max_tokens=128, prefix_cache_dir=prefix_cache_dir())


@pytest.fixture(scope="module")
def translations(translator):
    systems = [load_systems().systems[name] for name in SYSTEMS]
    for system in systems:  # each prefix prefilled (or read from disk) first, as the worker prepares its systems
        translator.prefix_cache(system, SUMMARY)
    outcomes = translator.translate("real-1", SUMMARY, systems)
    assert all(isinstance(o, Translation) for o in outcomes), outcomes
    return {t.system: t for t in outcomes}


@pytest.mark.parametrize("name", SYSTEMS)
def test_real_model_output_is_valid_and_not_empty(translations, name):
    system = load_systems().systems[name]
    translation = translations[name]
    assert system.validation_errors(translation.document) == []
    assert set(translation.document) == set(system.schema["required"])
    items = [item for value in translation.document.values() if isinstance(value, list) for item in value]
    assert items, f"{name}: the summary clearly has items, got {translation.document}"
    assert translation.lineage.translator_model_version.startswith("translator-model:")
    assert 0 < translation.stats.generated_tokens <= 128
    assert translation.stats.prompt_tokens_processed < 200  # the summary only: the prefix is cached


def test_batched_and_fast_forwarded_greedy_tokens_equal_one_step_at_a_time(translator, monkeypatch):
    # Two systems with prefixes of different lengths make a padded batch; nudge's answer is the longest here
    # (about 130 tokens a run), and the tiny model's test compares all three systems. A planner summary of three
    # bullets decodes in three parts whose forced runs differ, so batch steps pad the shorter rows.
    # A 48-token budget keeps it short; a document reaching it is closed by the end-of-budget guard on every path.
    systems = [load_systems().systems[name] for name in ("planner", "synapse")]
    planner = systems[0]
    bullets = next(e["summary"] for e in planner.examples if len(planner.parts_for(e["summary"])) == 3)
    jobs = [TranslationJob("real-2", SHORT, systems), TranslationJob("real-3", bullets, [planner])]
    paddings: list[list[int]] = []
    pad_rows = SharedPrefixBatchCache.pad_rows
    monkeypatch.setattr(
        SharedPrefixBatchCache,
        "pad_rows",
        lambda cache, padding, width: paddings.append(padding) or pad_rows(cache, padding, width),
    )
    queried: list[tuple[int, int]] = []  # per attention call: the queries computed, the rows' slots they fill
    attend = attention.shared_prefix_attention

    def recording(queries, *args):
        tokens, packing = queries.shape[0] * queries.shape[2], args[-1]
        queried.append((tokens, packing.rows * packing.width if packing else tokens))
        return attend(queries, *args)

    monkeypatch.setattr(attention, "shared_prefix_attention", recording)

    def run(**options) -> list[Translation]:
        outcomes = [o for row in translator.translate_many(jobs, **options) for o in row]
        assert all(isinstance(o, Translation) for o in outcomes), outcomes
        return outcomes  # type: ignore[return-value]

    translator.max_tokens = 48
    try:
        plain = run(batch_size=1, fast_forward=False)
        fast = run(batch_size=1, fast_forward=True)
        batched = run(batch_size=3)
    finally:
        translator.max_tokens = 128
    reference = [t.tokens for t in plain]
    assert [t.tokens for t in fast] == reference
    assert [t.tokens for t in batched] == reference
    assert any(any(padding) for padding in paddings)  # rows fed different numbers of forced tokens in one step
    assert any(tokens < slots for tokens, slots in queried)  # and the model computed no query for a pad
    assert sum(t.stats.forced_tokens for t in fast) > 0
    assert sum(t.stats.forward_passes for t in fast) < sum(t.stats.forward_passes for t in plain)
