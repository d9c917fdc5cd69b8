"""Batched, fast-forwarded constrained decoding: same greedy tokens as one step at a time, valid documents,
the guard's fast path, and models whose chat templates differ."""

from __future__ import annotations

import copy
import json

import mlx.core as mx
import mlx_lm
import pytest
from mlx_lm.models.cache import make_prompt_cache
from mlx_lm.sample_utils import make_sampler
from tiny_model import NO_SYSTEM_ROLE_TEMPLATE, build_tiny_model

from edge_worker.constrained import SchemaConstraint, compile_schema, grammar_tokenizer
from edge_worker.constrained.budget import worst_case_tokens
from edge_worker.constrained.decode import Decoding, decode
from edge_worker.constrained.shared_prefix import SharedPrefix, SharedPrefixBatchCache
from edge_worker.jobs import TranslationJob
from edge_worker.model_store import ModelInfo
from edge_worker.prompting import PromptFormatError, build_system_prompt
from edge_worker.translator import Translation, Translator, for_this_device
from schemas.date_grounding import grounded
from schemas.system_definition import load_systems, output_validator

SYSTEMS = [load_systems().systems[name] for name in ("planner", "synapse", "nudge")]
SUMMARIES = [
    "Session on Monday 17 March 2025. The user promised to send the budget to Priya by Wednesday.",
    "The user wants a reminder to drink water every two hours.",
    "Session on 2 May 2025: call Carmen on Friday at 19:30; read 20 pages every night.",
    "Nothing to record.",
    "The user booked a dentist visit on Friday 21 March at 09:00.",
]
BOUNDED = {
    "type": "object",
    "additionalProperties": False,
    "required": ["mood", "note"],
    "properties": {
        "mood": {"enum": ["calm", "busy", "tired"]},
        "note": {"type": "string", "maxLength": 12},
        "tags": {"type": "array", "maxItems": 3, "items": {"type": "string", "maxLength": 6}},
        "done": {"type": "boolean"},
    },
}


@pytest.fixture(scope="module")
def translator(tiny_model):
    return Translator(for_this_device(tiny_model.model), tiny_model.tokenizer, tiny_model.info, max_tokens=96)


def _tokens(outcomes) -> list[list[int]]:
    assert all(isinstance(o, Translation) for o in outcomes), outcomes
    return [o.tokens for o in outcomes]


def test_greedy_tokens_are_the_same_batched_fast_forwarded_or_one_step_at_a_time(translator, monkeypatch):
    jobs = [TranslationJob(f"s-{i}", text, SYSTEMS) for i, text in enumerate(SUMMARIES[:3])]
    one_step = [_tokens(o) for o in translator.translate_many(jobs, batch_size=1, fast_forward=False)]
    fast = [_tokens(o) for o in translator.translate_many(jobs, batch_size=1, fast_forward=True)]
    sizes = []
    update = SharedPrefixBatchCache.update_and_fetch
    monkeypatch.setattr(SharedPrefixBatchCache, "update_and_fetch", _recorded(update, sizes))
    rows = translator.translate_many(jobs, batch_size=4)  # 9 pairs, 4 rows at a time
    batched = [_tokens(o) for o in rows]
    assert fast == one_step
    assert batched == one_step
    assert max(sizes) > 1  # rows of one system prefix in one batch, the prefix held once
    batch_stats = [o.stats for row in rows for o in row]  # rows fed several forced tokens a step
    assert sum(s.forward_passes for s in batch_stats) < sum(s.generated_tokens for s in batch_stats)
    stats = [o.stats for row in translator.translate_many(jobs, batch_size=1) for o in row]
    assert sum(s.forced_tokens for s in stats) > 0
    assert sum(s.forward_passes for s in stats) < sum(s.generated_tokens for s in stats)


def _recorded(update, sizes):
    """SharedPrefixBatchCache.update_and_fetch, recording the rows of each forward pass."""

    def recording(self, keys, values):
        sizes.append(keys.shape[0])
        return update(self, keys, values)

    return recording


def test_batched_sampling_keeps_every_document_valid(tiny_model):
    sampler = Translator(tiny_model.model, tiny_model.tokenizer, tiny_model.info, temperature=5.0, max_tokens=96)
    jobs = [TranslationJob(f"s-{i}", text, SYSTEMS) for i, text in enumerate(SUMMARIES[2:])]
    for row in sampler.translate_many(jobs, batch_size=6, seed=3):
        for outcome, system in zip(row, SYSTEMS, strict=True):
            assert isinstance(outcome, Translation), outcome
            assert system.validation_errors(outcome.document) == []
            assert outcome.stats.generated_tokens <= 96


def test_worst_case_bound_is_sound_and_gives_the_fast_path(tiny_model):
    gtok = grammar_tokenizer(tiny_model.tokenizer)
    bound = worst_case_tokens(BOUNDED)
    assert bound is not None
    for system in SYSTEMS:  # the shipped schemas are unbounded or far beyond their budgets: they keep the guard
        shipped = worst_case_tokens(system.schema)
        assert shipped is None or shipped > system.max_output_tokens
    grammar = compile_schema(BOUNDED, gtok, system="bounded")
    validator = output_validator(BOUNDED)
    for seed in range(12):
        constraint = SchemaConstraint(gtok, grammar, max_tokens=bound, system="bounded", worst_case_tokens=bound)
        assert constraint.guard is None  # no per-token guard work
        prompt = tiny_model.tokenizer.encode("mood?", add_special_tokens=False)
        sequence = Decoding(prompt, make_prompt_cache(tiny_model.model), constraint)
        mx.random.seed(seed)
        decode(tiny_model.model, [sequence], sampler=make_sampler(temp=50.0))
        assert sequence.error is None
        assert validator.is_valid(json.loads(sequence.text))
        assert len(sequence.tokens) <= bound
    guarded = SchemaConstraint(gtok, grammar, max_tokens=bound - 1, system="bounded", worst_case_tokens=bound)
    assert guarded.guard is not None


@pytest.mark.parametrize("template", [NO_SYSTEM_ROLE_TEMPLATE, None], ids=["no-system-role", "no-template"])
def test_models_without_a_system_role_or_without_a_template_translate(tmp_path, template):
    folder = build_tiny_model(tmp_path / "model", chat_template=template)
    model, tokenizer = mlx_lm.load(str(folder))
    translator = Translator(model, tokenizer, ModelInfo("tiny-variant", "digest", folder), max_tokens=64)
    prompt = build_system_prompt(tokenizer, SYSTEMS[2], translator.chat_format)
    if template is None:
        assert translator.chat_format == "plain"
        assert prompt.head.startswith("You convert a summary") and prompt.tail == "\n</summary>\nJSON:\n"
    else:
        assert translator.chat_format == "folded"
        assert prompt.head.startswith("<|im_start|>user\nYou convert a summary")  # system text in the user turn
        assert "<|im_start|>system" not in prompt.head
    [outcome] = translator.translate("s-1", SUMMARIES[0], SYSTEMS[2:])
    assert isinstance(outcome, Translation) and SYSTEMS[2].validation_errors(outcome.document) == []


def test_a_template_that_fails_otherwise_is_refused_at_load_naming_the_problem(tmp_path):
    folder = build_tiny_model(tmp_path / "model", chat_template="{{ messages[0]['content'] | no_such_filter }}")
    model, tokenizer = mlx_lm.load(str(folder))
    with pytest.raises(PromptFormatError, match="chat template"):
        Translator(model, tokenizer, ModelInfo("tiny-broken", "digest", folder))
    dropping = build_tiny_model(tmp_path / "dropping", chat_template="{{ messages[-1]['content'] }}")
    model, tokenizer = mlx_lm.load(str(dropping))
    with pytest.raises(PromptFormatError, match="drops parts"):
        Translator(model, tokenizer, ModelInfo("tiny-dropping", "digest", dropping))


def test_a_sequence_that_runs_out_of_budget_leaves_the_batch_and_the_others_finish(tiny_model):
    gtok = grammar_tokenizer(tiny_model.tokenizer)
    grammar = compile_schema(SYSTEMS[0].schema, gtok, system="planner")
    prompt = tiny_model.tokenizer.encode("plan", add_special_tokens=False)

    def sequence(budget: int, guard: bool) -> Decoding:
        # worst_case_tokens=0 claims the document always fits: no guard, so a small budget can run out
        constraint = SchemaConstraint(gtok, grammar, budget, "planner", worst_case_tokens=None if guard else 0)
        return Decoding(list(prompt), make_prompt_cache(tiny_model.model), constraint)

    unguarded, first, second = sequence(12, guard=False), sequence(64, guard=True), sequence(80, guard=True)
    decode(tiny_model.model, [unguarded, first, second], batch_size=3, sampler=make_sampler(temp=50.0))
    assert unguarded.error is not None and "did not complete within 12 tokens" in str(unguarded.error)
    for done in (first, second):
        assert done.error is None
        assert SYSTEMS[0].validation_errors(json.loads(done.text)) == []


def test_rows_joining_in_finished_rows_slots_decode_as_they_do_alone(tiny_model, monkeypatch):
    """Rows sharing a prefix, finishing at different steps (budgets 24 to 60): each row joining takes a finished
    row's slot in place and decodes the greedy tokens it decodes alone."""
    gtok = grammar_tokenizer(tiny_model.tokenizer)
    grammar = compile_schema(SYSTEMS[0].schema, gtok, system="planner")
    prefix_tokens = tiny_model.tokenizer.encode("Plan the week from this session:", add_special_tokens=False)
    prefix = make_prompt_cache(tiny_model.model)
    tiny_model.model(mx.array(prefix_tokens)[None], cache=prefix)
    mx.eval([layer.state for layer in prefix])
    texts = ["call Ana", "send the budget to Priya on Friday", "read", "gym at 7", "water", "taxes due in May"]

    def sequences() -> list[Decoding]:
        made = []
        for budget, text in zip((24, 60, 36, 48, 30, 54), texts, strict=True):
            constraint = SchemaConstraint(gtok, grammar, budget, "planner")
            prompt = tiny_model.tokenizer.encode(" " + text, add_special_tokens=False)
            made.append(
                Decoding(prompt, copy.deepcopy(prefix), constraint, prefix=SharedPrefix(prefix, len(prefix_tokens)))
            )
        return made

    alone = sequences()
    decode(tiny_model.model, alone, batch_size=1)
    placed = []
    place = SharedPrefixBatchCache.place
    monkeypatch.setattr(
        SharedPrefixBatchCache, "place", lambda self, index, own: placed.append(index) or place(self, index, own)
    )
    batched = sequences()
    decode(tiny_model.model, batched, batch_size=3)
    assert all(seq.error is None for seq in alone + batched)
    assert [seq.tokens for seq in batched] == [seq.tokens for seq in alone]
    assert placed  # some rows joined in place, not by filter and extend


def test_the_worst_case_of_a_schema_grounding_left_no_date_counts_what_can_still_be_written():
    due = {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]}
    item = {"type": "object", "additionalProperties": False, "properties": {"due": due}}
    schema = {"type": "object", "additionalProperties": False, "properties": {"d": {"type": "array", "maxItems": 2}}}
    schema["properties"]["d"]["items"] = item
    undated = grounded(schema, "No date written.")  # the date branch becomes `false`
    assert undated["properties"]["d"]["items"]["properties"]["due"]["anyOf"][0] is False
    assert worst_case_tokens(undated) < worst_case_tokens(schema)  # the null branch only
    assert worst_case_tokens({**schema, "properties": {"d": False}}) == worst_case_tokens({**schema, "properties": {}})
