"""Item-level evaluation logic: key fields, matching, dates, invented and repeated items, the streaming repeat
finder, zero-shot prompts, and the aggregation of `evaluate_system` over a scripted translator."""

from __future__ import annotations

import json

import pytest

from edge_worker.constrained.duplicates import ItemTracker
from edge_worker.evaluate import EmptySplitError, evaluate_system, registry_upload, render_markdown
from edge_worker.prompting import prompt_examples, prompt_version, zero_shot
from edge_worker.quality.items import ItemKeys, drop_duplicates, duplicate_count, item_key, normal_text
from edge_worker.quality.metrics import match_items, prf, score_document
from edge_worker.translator import Lineage, Translation, TranslationFailure, TranslationStats
from schemas.eval_result import EvalResult
from schemas.lineage import RegistryEntry
from schemas.system_definition import SystemDefinition, SystemDefinitionError, load_systems

PLANNER_KEYS = ItemKeys({"tasks": ["title"], "events": ["title"]})


def test_texts_compare_without_case_punctuation_articles_or_spacing():
    assert normal_text("  Send the Q3-budget, to PRIYA! ") == normal_text("send Q3 budget to Priya")
    assert normal_text("Call Mum") != normal_text("Call Dad")


def test_an_item_is_keyed_by_its_declared_fields_else_its_string_fields():
    task = {"title": "Book flights", "due": "2025-05-01", "priority": "high", "n": 3}
    assert item_key(task, ["title"]) == (("title", "book flights"),)
    assert item_key(task, None) == (("due", "2025-05-01"), ("priority", "high"), ("title", "book flights"))
    assert item_key("Travel ", []) == item_key("travel", None) == ("travel",)
    assert ItemKeys({"tags": []}).key("tags", "X") == ("x",)


def test_repeated_items_are_counted_and_dropped_at_any_depth_keeping_the_first():
    document = {
        "tasks": [{"title": "Pack", "due": None}, {"title": "pack.", "due": "2025-01-02"}, {"title": "Go"}],
        "events": [{"title": "Lunch", "attendees": ["Ana", "ana", "Bo"]}],
    }
    assert duplicate_count(document, PLANNER_KEYS) == 2
    kept, dropped = drop_duplicates(document, PLANNER_KEYS)
    assert dropped == 2
    assert kept == {
        "tasks": [{"title": "Pack", "due": None}, {"title": "Go"}],
        "events": [{"title": "Lunch", "attendees": ["Ana", "Bo"]}],
    }


def test_items_match_one_to_one_by_key_fields_with_free_text_overlap():
    expected = [{"title": "Send the revised Q3 budget to Priya"}, {"title": "Renew the passport"}]
    predicted = [{"title": "Renew passport"}, {"title": "Send Q3 budget to Priya"}, {"title": "Renew passport"}]
    assert sorted(match_items(predicted, expected, ["title"])) == [(0, 1), (1, 0)]
    assert match_items([{"title": "Walk the dog"}], expected, ["title"]) == []


def test_a_document_scores_matches_dates_invented_and_repeated_items():
    expected = {
        "tasks": [{"title": "Send budget to Priya", "due": "2025-03-19"}, {"title": "Renew passport", "due": None}],
        "events": [{"title": "Budget review", "start": "2025-03-20T10:00:00+01:00"}],
    }
    predicted = {
        "tasks": [
            {"title": "send the budget to Priya", "due": "2025-03-19"},
            {"title": "Renew passport", "due": "2025-03-18"},  # matched, wrong date
            {"title": "Renew passport", "due": None},  # a repeat: unmatched, counted
        ],
        "events": [{"title": "Budget review", "start": "2025-03-20T10:00:00Z"}],  # wrong offset
    }
    score = score_document(predicted, expected, PLANNER_KEYS)
    assert (score.matched, score.predicted, score.expected) == (3, 4, 3)
    assert (score.dated, score.dates_exact) == (3, 1)
    assert score.invented is None and score.duplicates == 1
    empty = {"tasks": [], "events": []}
    assert score_document(predicted, empty, PLANNER_KEYS).invented is True
    assert score_document(empty, empty, PLANNER_KEYS).invented is False


def test_precision_recall_and_f1_with_vacuous_cases():
    assert prf(3, 4, 3) == pytest.approx((0.75, 1.0, 6 / 7))
    assert prf(0, 0, 0) == (1.0, 1.0, 1.0)
    assert prf(0, 2, 0) == (0.0, 1.0, 0.0)
    assert prf(0, 0, 2) == (1.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("text", "repeated_at"),
    [
        ('{"tasks":[{"title":"A","d":1},{"title":"b"},{"title":"a ","d":2}],"e":[]}', 43),
        ('{"t":[1,2,1.0]}', 9),
        ('{"t":[true,null,true]}', 15),
        ('{"t":["x","y"],"u":["x","X"]}', 23),  # arrays are apart
        ('{"e":[{"a":["p","p"]}]}', 15),  # a nested array
        ('{"t":["a,\\"b\\"]","a,\\"b\\"]"]}', 16),  # quotes, commas and brackets inside strings
        ('{"tasks":[{"title":"A","d":1},{"title":"B","d":1}],"t":["A","B"]}', None),
    ],
)
def test_the_streaming_finder_reports_the_comma_before_the_first_repeat(text, repeated_at):
    tracker = ItemTracker(ItemKeys({"tasks": ["title"]}).key)
    for index in range(0, len(text), 3):  # bytes arrive in token-sized pieces
        tracker.feed(text[index : index + 3].encode())
    assert tracker.duplicate == repeated_at
    if repeated_at is not None:
        assert text[repeated_at] == ","
        kept = text[:repeated_at]
        again = tracker.restarted(kept.encode())
        assert again.duplicate is None and bytes(again.data) == kept.encode()


def test_key_fields_must_name_arrays_and_their_items_fields():
    shipped = load_systems().systems["planner"]
    assert shipped.key_fields == {"tasks": ["title"], "events": ["title"], "events[].attendees": []}
    assert SystemDefinition.from_dict(shipped.to_dict()).key_fields == shipped.key_fields
    for bad, problem in [({"chores": []}, "'chores' is not an array"), ({"tasks": ["name"]}, "no field 'name'")]:
        with pytest.raises(SystemDefinitionError, match=problem):
            SystemDefinition.from_dict(shipped.to_dict() | {"key_fields": bad})


def test_a_zero_shot_prompt_has_no_worked_examples_and_a_version_of_its_own():
    system = load_systems().systems["nudge"]
    bare = zero_shot(system)
    assert prompt_examples(bare) == [] and len(prompt_examples(system)) == 4
    assert prompt_version(bare) != prompt_version(system)
    assert bare.examples_for("eval") == system.examples_for("eval") and bare.name == system.name
    assert zero_shot(bare) is bare


class ScriptedTranslator:
    """Answers each summary with the document scripted for it (a failure for a missing one)."""

    model_version = "translator-model:test"

    def __init__(self, answers: dict[str, dict], stats: dict[str, dict] | None = None) -> None:
        self.answers, self.stats, self.seen = answers, stats or {}, []

    def translate(self, summary_id, summary_text, systems):
        [system] = systems
        self.seen.append((summary_id, prompt_version(system)))
        if summary_text not in self.answers:
            return [TranslationFailure(summary_id=summary_id, system=system.name, error="out of budget")]
        stats = {"prompt_tokens_processed": 5, "generated_tokens": 20, "seconds": 2.0, "tokens_per_second": 10.0}
        return [
            Translation(
                summary_id=summary_id,
                system=system.name,
                document=self.answers[summary_text],
                lineage=Lineage(translator_model_version="m", translator_prompt_version="p", schema_version="s"),
                stats=TranslationStats(**(stats | self.stats.get(summary_text, {}))),
            )
        ]


def _planner_with(examples: list[dict]) -> SystemDefinition:
    shipped = load_systems().systems["planner"]
    return SystemDefinition.from_dict(shipped.to_dict() | {"examples": examples})


def test_evaluate_system_aggregates_items_dates_invented_and_repeats_over_a_split():
    empty = {"tasks": [], "events": []}
    task = {"title": "Pay rent", "due": "2025-02-01", "priority": "high", "status": "todo"}
    examples = [
        {"summary": "rent on 2025-02-01", "expected": {"tasks": [task], "events": []}, "split": "eval"},
        {"summary": "nothing", "expected": empty, "split": "eval"},
        {"summary": "quiet", "expected": empty, "split": "eval"},
        {"summary": "fails on 2025-02-01", "expected": {"tasks": [task], "events": []}, "split": "eval"},
        {"summary": "shown", "expected": empty, "split": "prompt"},
    ]
    invented = {"tasks": [task | {"title": "Buy milk"}], "events": []}
    translator = ScriptedTranslator(
        {"rent on 2025-02-01": {"tasks": [task], "events": []}, "nothing": invented, "quiet": empty},
        stats={"rent on 2025-02-01": {"duplicates_suppressed": 1}},
    )
    progress: list[str] = []
    result = evaluate_system(translator, _planner_with(examples), progress=progress.append)
    assert progress == [f"eval planner eval example {i}/4" for i in range(1, 5)]
    assert [summary_id for summary_id, _ in translator.seen] == [f"planner-eval-{i}" for i in range(4)]
    assert result.examples == 4 and result.valid_rate == 0.75
    assert (result.precision, result.recall) == (0.5, 0.5)  # 1 matched of 2 generated and of 2 expected
    assert result.exact_date_accuracy == 1.0 and result.dated_matches == 1
    assert result.empty_examples == 2 and result.invented_rate == 0.5
    assert (result.duplicate_items, result.duplicate_rate, result.duplicates_suppressed) == (1, 0.25, 1)
    assert result.mean_seconds == 1.5 and result.tokens_per_second == 10.0
    assert result.scores[3].error == "out of budget" and not result.scores[3].valid

    zero = evaluate_system(translator, _planner_with(examples), split="prompt", zero_shot_prompt=True)
    assert zero.zero_shot and zero.examples == 1 and zero.translator_prompt_version != result.translator_prompt_version
    assert evaluate_system(translator, _planner_with(examples), limit=2).examples == 2
    with pytest.raises(EmptySplitError, match="no example in the 'train' split"):
        evaluate_system(translator, _planner_with(examples), split="train")

    table = render_markdown([result, zero])
    assert "| planner | eval | few-shot | 4 | 75% | 0.50 | 0.50 | 0.50 | 100% (1) | 50% (2) | 1 (25%) |" in table
    assert "| planner | prompt | zero-shot | 1 |" in table


def test_the_registry_entry_is_content_addressed_and_leaves_the_documents_out():
    translator = ScriptedTranslator({"quiet": {"tasks": [], "events": []}})
    examples = [{"summary": "quiet", "expected": {"tasks": [], "events": []}, "split": "eval"}]
    result = evaluate_system(translator, _planner_with(examples))
    version_id, upload = registry_upload(result)
    entry = RegistryEntry(version_id=version_id, kind=upload.kind, content=upload.content, created_at="2026-01-01")
    assert entry.matches_content() and version_id.startswith("eval-result:")
    assert all("document" not in score for score in upload.content["scores"])
    assert upload.content["translator_adapter_version"] is None
    back = EvalResult.model_validate(json.loads(json.dumps(upload.content)))
    assert back.f1 == result.f1 and back.translator_prompt_version == result.translator_prompt_version


@pytest.mark.parametrize("name", ["planner", "nudge", "synapse"])
def test_each_shipped_system_has_a_summary_without_a_time_zone(name):
    system = load_systems().systems[name]
    offsetless = [ex for ex in system.examples if "no time zone" in ex["summary"]]
    assert offsetless, f"{name}: no example whose summary states no time zone"
    stamps = [v for ex in offsetless for v in json.dumps(ex["expected"]).split('"') if "T" in v and v[:4].isdigit()]
    assert all(stamp.endswith("Z") for stamp in stamps), stamps
