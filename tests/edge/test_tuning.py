"""LoRA tuning on the tiny model: train a few steps, adopt or reject on held-out F1, and translate with the
adopted adapter (lineage, batches and prefix caches keyed on it)."""

from __future__ import annotations

import json
from dataclasses import replace

import mlx.core as mx
import mlx_lm
import pytest

from edge_worker import model_store
from edge_worker.evaluate import evaluate_system
from edge_worker.jobs import TranslationJob, lineage_for, systems_to_translate
from edge_worker.lora import Adapter
from edge_worker.model_store import ModelInfo, adapter_dir, adopted_adapters
from edge_worker.prompting import prompt_version, zero_shot
from edge_worker.translator import Translation, Translator, tune_command
from edge_worker.tuning.data import distilled_path, token_sequences, training_examples
from edge_worker.tuning.train import TuneSettings
from edge_worker.tuning.tune import HeldOut, tune_system
from schemas.lineage import content_version
from schemas.system_definition import SystemDefinition, load_systems

SETTINGS = TuneSettings(iters=3, rank=2, num_layers=1, learning_rate=1e-2, max_seq_length=2048)


def _definition(name: str) -> SystemDefinition:
    def example(text: str, title: str, split: str) -> dict:
        return {"summary": text, "expected": {"title": title}, "split": split}

    return SystemDefinition.from_dict(
        {
            "name": name,
            "description": f"{name} test system",
            "instructions": "Write the title of the task.",
            "schema": {
                "type": "object",
                "properties": {"title": {"type": "string", "maxLength": 12}},
                "required": ["title"],
                "additionalProperties": False,
            },
            "examples": [
                example("The user booked flights.", "Book flights", "prompt"),
                example("The user planned a trip to Lisbon.", "Plan trip", "train"),
                example("The user scheduled a call with Ana.", "Call Ana", "train"),
                example("The user reviewed three tasks.", "Review tasks", "eval"),
                example("The user marked one task done.", "Task done", "eval"),
            ],
            "max_output_tokens": 24,
        }
    )


NOTES, TASKS = _definition("notes"), _definition("tasks")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SSP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def translator(tiny_model_dir, tiny_model):
    """A fresh copy of the tiny model (tuning wraps its layers), read from adopted.json like the daemon's."""
    model, tokenizer = mlx_lm.load(str(tiny_model_dir))
    info = ModelInfo(tiny_model.info.model_id, tiny_model.info.weights_digest, tiny_model_dir)
    return Translator(model, tokenizer, info, max_tokens=16, adopted=adopted_adapters)


def test_training_data_is_the_train_split_plus_distilled_rows_of_the_current_schema(home, translator):
    distilled_path("notes").parent.mkdir(parents=True)
    rows = [
        {"summary_id": "s1", "text": "The user wrote a note.", "document": {"title": "Note"}, "model": "m"},
        {"summary_id": "s2", "text": "Old schema.", "document": {"title": "Old"}, "model": "m"},
    ]
    rows[0]["schema_version"], rows[1]["schema_version"] = NOTES.schema_version, "schema:older"
    distilled_path("notes").write_text("".join(json.dumps(row) + "\n" for row in rows))
    examples, data = training_examples(NOTES)
    assert [e["expected"]["title"] for e in examples] == ["Plan trip", "Call Ana", "Note"]
    assert data["train_examples"] == 2 and data["distilled_examples"] == 1
    [(tokens, offset), *_] = token_sequences(translator.prompt_for(NOTES), translator.tokenizer, examples)
    prompt = translator.prompt_for(NOTES).full_tokens("The user planned a trip to Lisbon.")
    assert tokens[:offset] == prompt and tokens[-1] == translator.tokenizer.eos_token_id
    assert translator.tokenizer.decode(tokens[offset:-1]) == '{"title":"Plan trip"}'


def test_the_eval_split_is_never_trained_on_not_even_as_a_distilled_row(home):
    held_out = NOTES.examples_for("eval")[0]
    distilled_path("notes").parent.mkdir(parents=True)
    row = {"summary_id": "s1", "text": held_out["summary"], "document": {"title": "Leak"}, "model": "m"}
    distilled_path("notes").write_text(json.dumps(row | {"schema_version": NOTES.schema_version}) + "\n")
    examples, data = training_examples(NOTES)
    eval_summaries = {example["summary"] for example in NOTES.examples_for("eval")}
    assert data["distilled_examples"] == 0 and not eval_summaries & {e["summary"] for e in examples}


def test_the_held_out_view_scores_only_the_eval_split(translator):
    held_out = HeldOut(NOTES, limit=1)
    assert [e["expected"]["title"] for e in held_out.examples] == ["Review tasks"]
    assert held_out.examples_for("prompt") == NOTES.examples_for("prompt")  # the prompt is the system's own
    assert evaluate_system(translator, held_out).examples == 1


def test_an_adapter_that_improves_held_out_f1_is_stored_registered_and_adopted(home, translator):
    base_output = translator.model(mx.array([[1, 2, 3, 4]]))
    result = tune_system(translator, NOTES, SETTINGS, min_gain=-1.0)  # any F1 counts as an improvement here

    assert result.adopted and adopted_adapters() == {"notes": result.version}
    assert result.version == content_version("translator-adapter", result.entry)
    entry = result.entry
    assert entry["base_model_version"] == translator.model_version and entry["system"] == "notes"
    assert (entry["rank"], entry["num_layers"], entry["iterations"]) == (2, 1, 3)
    assert entry["data"]["train_examples"] == 2 and entry["data"]["train_sha256"].startswith("sha256:")
    assert entry["eval"] == {"split": "eval", "examples": 2, "f1_before": result.f1_before, "f1_after": result.f1_after}
    assert [iteration for iteration, _ in result.losses] == [1, 2, 3]
    stored = adapter_dir(result.version)
    assert json.loads((stored / model_store.ADAPTER_ENTRY).read_text()) == entry
    assert entry["weights_digest"] == model_store.adapter_weights_digest(stored)
    # Training gave the model its base layers back: the untuned output is unchanged.
    assert mx.array_equal(translator.model(mx.array([[1, 2, 3, 4]])), base_output)

    # The adapter changes the model's output while applied, and only then.
    translator.refresh_adapters()
    translator.adapters.apply(result.version)
    tuned_output = translator.model(mx.array([[1, 2, 3, 4]]))
    translator.adapters.apply(None)
    assert not mx.allclose(tuned_output, base_output)
    assert mx.array_equal(translator.model(mx.array([[1, 2, 3, 4]])), base_output)


def test_an_adapter_that_does_not_improve_is_rejected_and_nothing_is_kept(home, translator):
    result = tune_system(translator, NOTES, SETTINGS, min_gain=1.0)  # no F1 gain can exceed 1
    assert not result.adopted and result.version is None
    assert "not adopted" in result.message and "nothing was kept" in result.message
    assert adopted_adapters() == {}
    assert not (home / "adapters").exists() or not any(p.is_dir() for p in (home / "adapters").iterdir())


def test_translations_name_the_adopted_adapter_and_batches_never_mix_adapters(home, translator):
    version = tune_system(translator, NOTES, SETTINGS, min_gain=-1.0).version
    jobs = [TranslationJob("s1", "The user wrote a note.", [NOTES, TASKS]), TranslationJob("s2", "Call Bo.", [NOTES])]
    outcomes = translator.translate_many(jobs, batch_size=8)
    assert all(isinstance(outcome, Translation) for row in outcomes for outcome in row)
    lineages = {(o.summary_id, o.system): o.lineage.translator_adapter_version for row in outcomes for o in row}
    assert lineages == {("s1", "notes"): version, ("s1", "tasks"): None, ("s2", "notes"): version}
    batch_sizes = {(o.summary_id, o.system): o.stats.batch_size for row in outcomes for o in row}
    assert batch_sizes == {("s1", "notes"): 2, ("s2", "notes"): 2, ("s1", "tasks"): 1}
    assert "translator_adapter_version" not in outcomes[0][1].lineage.model_dump(exclude_none=True)
    assert translator.adapters.active is None  # the embedder never sees an adapter
    # The adapter is served in the prompt it was trained on (zero-shot), and its records name that prompt.
    prompts = {(o.summary_id, o.system): o.lineage.translator_prompt_version for row in outcomes for o in row}
    tuned_prompt = model_store.adapter_entry(version)["translator_prompt_version"]
    assert prompts[("s1", "notes")] == prompts[("s2", "notes")] == tuned_prompt == prompt_version(zero_shot(NOTES))
    assert prompts[("s1", "tasks")] == prompt_version(TASKS)
    stored = {"notes": {"version": 1, **outcomes[0][0].lineage.model_dump(exclude_none=True)}}
    served = [translator.served(NOTES)]
    assert systems_to_translate(served, stored, translator.model_version, False, translator.adapter_versions()) == []
    # The adapted system's prefix cache is its own: keyed on the prompt and the adapter.
    keys = set(translator.prefixes._memory)
    assert f"{tuned_prompt}@{version}" in keys and translator.prompt_for(TASKS).version in keys

    # Adopting nothing for the system: the next call translates it with the base model again.
    model_store.set_adopted_adapter("notes", None)
    [[again]] = translator.translate_many([TranslationJob("s3", "A note.", [NOTES])])
    assert again.lineage.translator_adapter_version is None and translator.adapter_versions() == {}


def test_a_few_shot_adapter_is_served_with_the_worked_examples(home, translator):
    version = tune_system(translator, NOTES, replace(SETTINGS, prompt="few-shot"), min_gain=-1.0).version
    [[outcome]] = translator.translate_many([TranslationJob("s1", "A note.", [NOTES])])
    assert outcome.lineage.translator_adapter_version == version
    assert outcome.lineage.translator_prompt_version == prompt_version(NOTES) != prompt_version(zero_shot(NOTES))


def test_an_adapter_for_another_base_model_is_refused_and_the_system_uses_the_base_model(home, translator):
    version = tune_system(translator, NOTES, SETTINGS, min_gain=-1.0).version
    entry_file = adapter_dir(version) / model_store.ADAPTER_ENTRY
    entry = json.loads(entry_file.read_text())
    entry_file.write_text(json.dumps({**entry, "base_model_version": "translator-model:another"}))
    other = Translator(translator.model, translator.tokenizer, translator.model_info, adopted=adopted_adapters)
    [[outcome]] = other.translate_many([TranslationJob("s1", "A note.", [NOTES])])
    assert other.adapter_versions() == {} and outcome.lineage.translator_adapter_version is None


def test_an_adapter_trained_on_another_version_of_the_prompt_is_not_applied_until_the_prompt_is_back(
    home, translator, caplog
):
    version = tune_system(translator, NOTES, SETTINGS, min_gain=-1.0).version
    changed = SystemDefinition.from_dict({**NOTES.to_dict(), "instructions": "Write the task's title, briefly."})
    served = [translator.served(changed)]
    [[outcome]] = translator.translate_many([TranslationJob("s1", "A note.", [changed])])
    assert outcome.lineage.translator_adapter_version is None
    assert outcome.lineage.translator_prompt_version == prompt_version(changed) == prompt_version(served[0])
    assert translator.adapter_versions() == {}
    stored = {"notes": {"version": 1, **outcome.lineage.model_dump(exclude_none=True)}}
    assert systems_to_translate(served, stored, translator.model_version, False, translator.adapter_versions()) == []
    assert [r.message for r in caplog.records].count("adapter not applied: trained on another prompt version") == 1

    [[back]] = translator.translate_many([TranslationJob("s2", "A note.", [NOTES])])
    assert back.lineage.translator_adapter_version == version and translator.adapter_versions() == {"notes": version}


def test_a_fresh_translator_leaves_an_adapter_for_another_prompt_out_from_the_first_check(tiny_model):
    unfit = Adapter("translator-adapter:older", 1.0, {}, "few-shot", prompt_version="translator-prompt:older")
    translator = Translator(
        tiny_model.model,
        tiny_model.tokenizer,
        tiny_model.info,
        max_tokens=16,
        adopted=lambda: {"notes": unfit.version},
        load_adapter=lambda version: unfit,
    )
    stored = {"notes": {"version": 1, **lineage_for(NOTES, translator.model_version)}}  # made without it, today
    adapters = translator.adapter_versions([NOTES])  # what reconcile reads before serving the systems
    assert adapters == {} and translator.served(NOTES) is NOTES
    assert systems_to_translate([NOTES], stored, translator.model_version, False, adapters) == []


def test_an_adapter_under_trial_is_not_undone_by_reading_the_adoptions(home, translator):
    trial = tune_system(translator, NOTES, SETTINGS, min_gain=-1.0, adopt=None)  # measured only: none adopted
    assert adopted_adapters() == {} and trial.version is None
    adapter = Adapter("translator-adapter:trial", 1.0, {}, "zero-shot")
    translator.try_adapter("notes", adapter)
    [[outcome]] = translator.translate_many([TranslationJob("s1", "A note.", [NOTES])])
    assert outcome.lineage.translator_adapter_version == "translator-adapter:trial"
    translator.use_adapters({})
    [[after]] = translator.translate_many([TranslationJob("s2", "A note.", [NOTES])])
    assert after.lineage.translator_adapter_version is None


def test_the_fix_named_for_an_unfit_adapter_tunes_the_definition_where_it_is(tmp_path):
    assert tune_command(NOTES) == "python -m edge_worker tune --system notes"
    folder = tmp_path / "my systems"
    folder.mkdir()
    (folder / "notes.json").write_text(json.dumps(NOTES.to_dict()))
    mine = load_systems(folder).systems["notes"]
    assert tune_command(mine) == f"python -m edge_worker tune --system notes --systems-dir '{folder}'"
    assert tune_command(load_systems().systems["planner"]) == "python -m edge_worker tune --system planner"


def test_one_translator_tunes_several_systems_in_turn(home, translator):
    first = tune_system(translator, NOTES, SETTINGS, min_gain=-1.0, adopt=None)  # measured only: nothing stored
    assert first.version is None and len(first.losses) == 3 and not (home / "adapters").exists()
    second = tune_system(translator, TASKS, SETTINGS, min_gain=-1.0)
    assert second.adopted and adopted_adapters() == {"tasks": second.version}


def test_examples_whose_answer_would_be_cut_away_are_left_out_not_trained_on_as_nan(home, translator, tmp_path):
    from edge_worker.tuning.tune import train_trial

    said: list[str] = []
    with pytest.raises(ValueError, match="no training example fits max_seq_length 8"):
        train_trial(translator, NOTES, replace(SETTINGS, max_seq_length=8), tmp_path / "a", progress=said.append)
    assert "2 examples left out" in said[0]
