"""POST /edge/distill's service over fakes: the prompt, the estimate, validation, one paid call per key."""

from __future__ import annotations

import json

import pytest
from cloud_fakes import ApiWorld, add_summarized, summary_result, system_definition

from functions.errors import ClientError
from functions.summarize.summarizer import SummarizerError
from schemas.edge_api import DistillRequest


@pytest.fixture
def world() -> ApiWorld:
    world = ApiWorld()
    add_summarized(world.sessions, "s-1", text="Overview: the dentist on Friday 2025-03-14.")
    world.edge.publish_system("planner", system_definition())
    return world


def ask(world: ApiWorld, **fields):
    return world.distill.answer(DistillRequest(**{"summary_id": "s-1", "system": "planner", **fields}))


def test_the_estimate_counts_tokens_and_prices_the_whole_output_budget_without_a_call(world):
    answer = ask(world, estimate=True)
    assert answer.estimate and answer.input_tokens == 1500 and answer.max_output_tokens == 512
    assert answer.cost_usd == pytest.approx((1500 * 1.0 + 512 * 5.0) / 1_000_000)  # claude-haiku-4-5
    assert world.summarizer.prompts == [] and world.usage.rows == {}


def test_an_unknown_price_or_token_count_makes_the_estimate_unknown(world):
    world.summarizer.model_id = "mystery-model"
    assert ask(world, estimate=True).cost_usd is None
    world.summarizer.model_id, world.summarizer.counted_tokens = "claude-haiku-4-5", None
    answer = ask(world, estimate=True)
    assert answer.input_tokens is None and answer.cost_usd is None


def test_a_valid_answer_is_read_and_paid_once_per_summary_system_and_schema(world):
    world.summarizer.script = [summary_result('```json\n{"title": "Dentist", "day": "2025-03-14"}\n```')]
    answer = ask(world)
    assert answer.document == {"title": "Dentist", "day": "2025-03-14"} and answer.problems == []
    system, [message] = world.summarizer.prompts[0]
    assert "Extract the appointments." in system and '"additionalProperties": false' in system
    assert message["content"][0]["text"] == "<summary>\nOverview: the dentist on Friday 2025-03-14.\n</summary>"
    [row] = world.usage.rows.values()
    assert row["calls"] == 1 and row["input_tokens"] == 1000 and row["cost_usd"] > 0
    again = ask(world)
    assert again == answer and len(world.summarizer.prompts) == 1 and row["calls"] == 1


def test_an_answer_that_breaks_the_schema_names_the_problems(world):
    world.summarizer.script = [summary_result(json.dumps({"title": 7}))]
    assert "7 is not of type 'string'" in " ".join(ask(world).problems)


def test_an_answer_that_is_not_json_is_reported_as_such(world):
    world.summarizer.script = [summary_result("Here is the JSON you asked for.")]
    answer = ask(world)
    assert answer.document is None and answer.problems[0].startswith("the answer is not valid JSON")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"title": "Dentist", "n": NaN}', "NaN is not a JSON number"),
        ('{"title": "Dentist", "n": -Infinity}', "-Infinity is not a JSON number"),
        ('{"title": "Dentist", "n": 1e999}', "the number 1e999 is out of range"),
        ('{"title": "Dentist", "n": ' + "9" * 5000 + "}", "Exceeds the limit"),
        ('{"title": "Dentist", "n": ' + "[" * 5000 + "]" * 5000 + "}", "nested too deeply"),
        ('{"title": "Dentist \\ud83d"}', "unpaired surrogate (\\ud83d)"),
        ('{"title": "Dentist", "\\udc00": 1}', "unpaired surrogate (\\udc00)"),
    ],
)
def test_an_answer_the_api_could_not_keep_is_a_problem_not_a_crash_nor_valid_data(world, text, problem):
    world.summarizer.script = [summary_result(text)]
    answer = ask(world)
    assert answer.document is None and problem in answer.problems[0], answer.problems
    assert ask(world) == answer and len(world.summarizer.prompts) == 1  # paid once; the retry reads the same


def test_unknown_summaries_and_systems_are_404s_and_cost_nothing(world):
    with pytest.raises(ClientError) as error:
        ask(world, system="nudge")
    assert error.value.status == 404 and "has not been published" in error.value.message
    with pytest.raises(ClientError) as error:
        world.distill.answer(DistillRequest(summary_id="s-404", system="planner"))
    assert error.value.status == 404 and world.summarizer.prompts == []


def test_a_provider_failure_is_retryable_and_is_not_remembered(world):
    world.summarizer.script = [SummarizerError("anthropic returned HTTP 529 overloaded_error", retryable=True)]
    with pytest.raises(ClientError) as error:
        ask(world)
    assert error.value.status == 503 and "overloaded" in error.value.message
    assert ask(world).document == {} and len(world.summarizer.prompts) == 2
