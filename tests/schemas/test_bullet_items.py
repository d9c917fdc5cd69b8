"""Lists decoded bullet by bullet (schemas.bullet_items): which parts a summary is decoded in, what each part reads
and allows, how the parts' documents are put together, and the definitions that are refused."""

from __future__ import annotations

import json
import re

import pytest

from schemas.bullet_items import MAX_WORDS, bullet_summary, bullets, merge, quoted
from schemas.system_definition import SystemDefinition, SystemDefinitionError, load_systems, output_validator

SHIPPED = load_systems().systems
SUMMARY = "\n\n".join(
    f"{heading}\n{text}"
    for heading, text in (
        ("Overview", "The user planned their week in a session on Monday 2025-03-17 (+01:00)."),
        ("People", "- Priya Nair: colleague in finance."),
        (
            "Commitments",
            "- The user will send Priya Nair the revised budget by Wednesday 2025-03-19.\n"
            "- The user meets Priya Nair on Thursday 2025-03-20 at 10:00 (+01:00).\n"
            "- The assistant will draft the agenda.",
        ),
        ("Reminders", "None."),
        ("Insights", '- The user learned that "timeboxing" helps them focus.\n- The user prefers mornings.'),
        ("Open questions", "- Should the budget include travel?"),
    )
)


def test_each_bullet_is_read_alone_with_the_overview_and_people():
    assert bullets(SUMMARY, "Commitments")[1] == "The user meets Priya Nair on Thursday 2025-03-20 at 10:00 (+01:00)."
    assert bullets(SUMMARY, "Reminders") == [] and bullets(SUMMARY, "Todos") == []
    text = bullet_summary(SUMMARY, "Insights", "The user prefers mornings.")
    assert text.split("\n\n") == [
        "Overview\nThe user planned their week in a session on Monday 2025-03-17 (+01:00).",
        "People\n- Priya Nair: colleague in finance.",
        "Commitments\nNone.",
        "Reminders\nNone.",
        "Insights\n- The user prefers mornings.",
        "Open questions\nNone.",
    ]


def test_planner_decodes_one_part_per_users_commitment_each_one_task_or_one_event():
    planner = SHIPPED["planner"]
    parts = planner.parts_for(SUMMARY)
    assert [part.lists for part in parts] == [("tasks", "events"), ("tasks", "events")]
    first = parts[0]
    assert "- The user will send Priya Nair" in first.summary and "meets Priya" not in first.summary
    validator = output_validator(first.schema)
    task = {"title": "Send Priya Nair the revised budget", "due": "2025-03-19", "priority": "high", "status": "todo"}
    event = {"title": "Meets Priya Nair", "start": "2025-03-19T10:00:00+01:00"}
    assert validator.is_valid({"tasks": [task], "events": []})
    assert not validator.is_valid({"tasks": [], "events": []}), "exactly_one: a commitment is a task or an event"
    assert not validator.is_valid({"tasks": [task], "events": [event]}), "one item in all, not one per list"
    assert not validator.is_valid({"tasks": [task, task], "events": []})
    assert not validator.is_valid({"tasks": [task | {"title": "Book a flight"}], "events": []}), "words not in it"
    assert not validator.is_valid({"tasks": [task | {"due": "2025-04-01"}], "events": []}), "dates stay grounded"
    assert not validator.is_valid({"tasks": [], "events": [event]}), "an event needs a time the bullet writes"
    meeting = output_validator(parts[1].schema)
    at_ten = {"title": "Meets Priya Nair", "start": "2025-03-20T10:00:00+01:00"}
    assert meeting.is_valid({"tasks": [], "events": [at_ten]})
    assert not meeting.is_valid({"tasks": [], "events": [at_ten | {"start": "2025-03-20T11:00:00+01:00"}]})
    assert not meeting.is_valid({"tasks": [], "events": [at_ten | {"start": "2025-03-17T10:00:00+01:00"}]})
    untimed = SystemDefinition.from_dict(planner.to_dict() | {"grounded_dates": False}).parts_for(SUMMARY)[0]
    anytime = {"title": "Send Priya Nair", "start": "2025-03-21T08:00:00Z"}  # not grounded: any date-time
    assert output_validator(untimed.schema).is_valid({"tasks": [], "events": [anytime]})


def test_an_at_most_one_list_may_take_nothing_from_a_bullet():
    nudge = SHIPPED["nudge"]
    [first, second] = nudge.parts_for(SUMMARY)  # Reminders says None: habits from the two Insights bullets
    assert first.lists == ("habits",) and "- The user prefers mornings." in second.summary
    validator = output_validator(first.schema)
    assert validator.is_valid({"reminders": [], "habits": []})
    assert validator.is_valid({"reminders": [], "habits": [{"name": "timeboxing", "cadence": "daily"}]})
    assert not validator.is_valid({"reminders": [], "habits": [{"name": "mornings", "cadence": "daily"}]})


def test_exactly_one_lists_take_one_item_per_bullet_and_the_rest_come_from_the_whole_summary():
    synapse = SHIPPED["synapse"]
    parts = synapse.parts_for(SUMMARY)
    assert [part.lists for part in parts] == [("insights",), ("insights",), ("open_questions",), ("topics", "links")]
    insight = output_validator(parts[0].schema)
    assert not insight.is_valid({"insights": [], "topics": [], "links": [], "open_questions": []})
    quote = {"text": "The user learned that timeboxing helps them focus", "kind": "learning"}
    assert insight.is_valid({"insights": [quote], "topics": [], "links": [], "open_questions": []})
    assert not insight.is_valid({"insights": [quote], "topics": ["focus"], "links": [], "open_questions": []})
    question = output_validator(parts[2].schema)
    assert question.is_valid({"insights": [], "topics": [], "links": [], "open_questions": ["Should the budget"]})
    whole = parts[3]
    assert whole.summary == SUMMARY
    assert [whole.schema["properties"][name].get("maxItems") for name in ("insights", "open_questions")] == [0, 0]
    assert whole.schema["properties"]["topics"] == synapse.schema["properties"]["topics"]


def test_synapse_takes_no_insight_from_a_habit_to_build_or_an_aside():
    synapse = SHIPPED["synapse"]
    insights = (
        "- The user wants to build a habit of walking to the ferry.\n- The user mentioned that the printer broke.\n"
        "- The user said the week was long.\n- The user prefers mornings."
    )
    summary = SUMMARY.replace(SUMMARY.split("Insights\n")[1].split("\n\n")[0], insights)
    assert [part.bullet for part in synapse.parts_for(summary)] == [
        "The user prefers mornings.",
        "Should the budget include travel?",
        None,
    ]


def test_a_summary_the_bullets_cannot_be_read_from_is_decoded_whole():
    planner = SHIPPED["planner"]
    plain = "The user will send the budget to Priya by Wednesday."
    assert [(part.summary, part.lists) for part in planner.parts_for(plain)] == [(plain, ("tasks", "events"))]
    prose = SUMMARY.replace(
        "- The user will send Priya Nair the revised budget by Wednesday 2025-03-19.\n", "The user will send it.\n"
    )
    [part] = planner.parts_for(prose)  # a section written as prose, not bullets
    assert part.summary == prose and part.schema == planner.schema_for(prose)


def test_a_summary_with_no_bullet_and_nothing_else_to_decode_has_no_part():
    planner = SHIPPED["planner"]
    nothing = SUMMARY.replace(SUMMARY.split("Commitments\n")[1].split("\n\n")[0], "None.")
    assert planner.reads_nothing(nothing) and planner.parts_for(nothing) == []


@pytest.mark.parametrize(
    ("bullet", "max_length", "inside", "outside"),
    [
        (
            "The user will send Priya the budget.",
            None,
            ["Send Priya the budget", "The user will send", "The user"],
            ["budget!", "user send", "the budget."],
        ),
        ("Call Dr. Sato: is it due?", None, ["Call Dr. Sato", "call Dr Sato", "is it due?"], ["Dr. Sato?"]),
        (
            'They call it "urgent"; it is due.',
            None,
            ["They call it urgent", "It is due"],
            ['call it "urgent"', "call it", "it due"],
        ),
        (
            "Café opens at 08:00 (+01:00) on Tue.",
            14,
            ["café opens"],
            ["café opens at", "Café opens at 08:00", "08:00 (+01:00)"],
        ),
        (
            "The reception is at the Quinta on Saturday, so the boat trip is next.",
            None,
            ["The reception", "The reception is at the Quinta", "So the boat trip is next."],
            ["The reception is", "The reception is at the", "So", "So the boat trip is"],
        ),
    ],
)
def test_a_quote_is_a_run_of_the_bullets_words_ending_on_no_function_word(bullet, max_length, inside, outside):
    pattern = re.compile(quoted(bullet, max_length))
    for text in inside:
        assert pattern.fullmatch(text), text
    for text in outside:
        assert not pattern.fullmatch(text), text
    assert quoted(' "" ') is None


def test_a_quote_starts_where_the_bullet_a_clause_or_a_reported_clause_does_not_at_any_word():
    bullet = "The user learned that gains inside an ISA are tax-free, up to the annual allowance of 20,000 pounds."
    pattern = re.compile(quoted(bullet))
    for text in (
        "The user learned that gains inside an ISA are tax-free",
        "Learned that gains inside an ISA are tax-free",  # after the user as subject
        "Gains inside an ISA are tax-free, up to the annual allowance of 20,000 pounds.",  # the reported clause
        "Up to the annual allowance of 20,000 pounds",  # after a comma
    ):
        assert pattern.fullmatch(text), text
    for text in ("Allowance of 20,000 pounds", "An ISA are tax-free", "Annual allowance", "User learned"):
        assert not pattern.fullmatch(text), text
    asked = re.compile(quoted("The user is unsure whether a dinghy course counts towards the licence."))
    assert asked.fullmatch("A dinghy course counts towards the licence.") and not asked.fullmatch("Course counts")
    first = re.compile(quoted("The user read that rye keeps and heard that oats do not."))  # the first "that" only
    assert first.fullmatch("Rye keeps") and not first.fullmatch("Oats do not")
    marked = re.compile(quoted("The user liked that, and learned that bread stales."))  # not "that,"
    assert marked.fullmatch("Bread stales")
    last = re.compile(quoted("The user asked about that"))  # a last "that": no start
    assert last.fullmatch("The user asked") and not last.fullmatch("That")


def test_a_quote_for_an_item_with_dates_leaves_out_the_bullets_date_phrases():
    bullet = "The user meets Priya Nair on Thursday 2025-03-20 from 10:00 to 11:00 (+01:00) in Room 4."
    assert re.fullmatch(quoted(bullet), "Meets Priya Nair on Thursday 2025-03-20")
    titled = re.compile(quoted(bullet, title=True))
    assert titled.fullmatch("Meets Priya Nair")
    for text in (
        "Meets Priya Nair on",
        "Meets Priya Nair on Thursday",
        "10:00 to 11:00",
        "(+01:00) in Room 4",
        "in Room 4",
    ):
        assert not titled.fullmatch(text), text
    weekly = re.compile(quoted("Call Dewi every Saturday at 16:00 (+07:00) and at 18:00.", title=True))
    assert weekly.fullmatch("Call Dewi") and not weekly.fullmatch("Call Dewi every")
    assert quoted("By Friday 2025-03-14 at 15:00 (+01:00).", title=True) is None

    [task, _] = SHIPPED["planner"].parts_for(SUMMARY)  # tasks and events have dates: their titles leave them out
    entry = {"title": "Send Priya Nair the revised budget", "due": "2025-03-19", "priority": "high", "status": "todo"}
    assert output_validator(task.schema).is_valid({"tasks": [entry], "events": []})
    dated = entry | {"title": "Send Priya Nair the revised budget by Wednesday 2025-03-19"}
    assert not output_validator(task.schema).is_valid({"tasks": [dated], "events": []})
    asked = SUMMARY.replace("Should the budget include travel?", "Is the budget due on Friday 2025-03-21?")
    question = output_validator(SHIPPED["synapse"].parts_for(asked)[2].schema)  # no date field: dates are the text
    assert question.is_valid(
        {"insights": [], "topics": [], "links": [], "open_questions": ["Is the budget due on Friday 2025-03-21?"]}
    )


def test_a_dated_items_title_quotes_one_clause_from_where_it_starts_without_the_user_as_subject():
    bullet = "The user booked the skip bin, which arrives soon."
    sentence = re.compile(quoted(bullet))  # an insight or a question is a sentence: runs past a clause's end
    assert sentence.fullmatch("booked the skip bin, which arrives") and sentence.fullmatch("The user booked")
    titled = re.compile(quoted(bullet, title=True))
    for text in ("Booked the skip bin", "booked the skip bin,", "which arrives soon"):
        assert titled.fullmatch(text), text
    for text in ("booked the skip bin, which arrives", "The user booked the skip bin", "skip bin"):
        assert not titled.fullmatch(text), text

    bullet = "The user will renew their Klimaticket before it expires on Sunday 2027-01-10; it is urgent."
    title = re.compile(quoted(bullet, title=True))
    for text in ("Renew their Klimaticket", "renew their Klimaticket before it expires", "It is urgent"):
        assert title.fullmatch(text), text
    for text in ("The user will renew their Klimaticket", "Will renew", "Klimaticket", "before it expires"):
        assert not title.fullmatch(text), text
    needs = re.compile(quoted("The user needs to book the change to winter tyres.", title=True))
    assert needs.fullmatch("Book the change to winter tyres") and not needs.fullmatch("To book the change")
    other = re.compile(quoted("Ramón will fix the boiler on Thursday 2025-12-04 at 10:00 (+01:00).", title=True))
    assert other.fullmatch("Ramón will fix the boiler") and not other.fullmatch("Fix the boiler")
    assert re.fullmatch(quoted("The user will", title=True), "will")
    assert re.fullmatch(quoted("The user", title=True), "The user")
    late = re.compile(quoted("The user will on Friday 2025-03-14 renew the ticket.", title=True))  # the date first
    assert late.fullmatch("Renew the ticket") and not late.fullmatch("Friday")
    short = re.compile(quoted("The user will renew their Klimaticket before it expires.", 24, title=True))
    assert short.fullmatch("Renew their Klimaticket") and not short.fullmatch("renew their Klimaticket before")


def test_a_bullet_that_writes_no_date_gives_its_item_no_date():
    summary = SUMMARY.replace("Reminders\nNone.", "Reminders\n- Take the allergy tablet every day at 07:00 (+01:00).")
    summary = summary.replace("the revised budget by Wednesday 2025-03-19", "the revised budget at 10:00")
    [daily, _, _] = SHIPPED["nudge"].parts_for(summary)
    validator = output_validator(daily.schema)
    every = {"text": "Take the allergy tablet every day", "trigger": {"every": "daily", "at_time": "07:00"}}
    assert validator.is_valid({"reminders": [every], "habits": []})
    once = every | {"trigger": {"at": "2025-03-17T07:00:00+01:00"}}  # the session's date is not the bullet's
    assert not validator.is_valid({"reminders": [once], "habits": []})
    [task, _] = SHIPPED["planner"].parts_for(summary)
    planner = output_validator(task.schema)
    entry = {"title": "Send Priya Nair the revised budget", "due": None, "priority": "medium", "status": "todo"}
    assert planner.is_valid({"tasks": [entry], "events": []})
    assert not planner.is_valid({"tasks": [entry | {"due": "2025-03-17"}], "events": []})
    event = {"title": "Send Priya Nair the revised budget", "start": "2025-03-17T10:00:00+01:00"}
    assert not planner.is_valid({"tasks": [], "events": [event]}), "an event needs a date the bullet writes"


def test_parts_are_put_together_in_order_up_to_each_lists_max_items():
    synapse = SHIPPED["synapse"]
    parts = synapse.parts_for(SUMMARY)
    empty = synapse.empty_document()
    documents = [(part, json.loads(json.dumps(empty))) for part in parts]
    documents[0][1]["insights"] = [{"text": "a", "kind": "idea"}]
    documents[1][1]["insights"] = [{"text": "b", "kind": "idea"}]
    documents[2][1]["open_questions"] = ["c"]
    documents[3][1]["topics"] = ["d"]
    merged, over = merge(synapse.schema, documents)
    assert merged == {
        "insights": [{"text": "a", "kind": "idea"}, {"text": "b", "kind": "idea"}],
        "topics": ["d"],
        "links": [],
        "open_questions": ["c"],
    }
    assert list(merged) == list(empty) and over == 0
    moods = [(part, document | {"mood": "calm" if part.whole else "tense"}) for part, document in documents]
    assert merge(synapse.schema, moods)[0]["mood"] == "calm"  # other properties: the whole summary's part
    capped = json.loads(json.dumps(synapse.schema))
    capped["properties"]["insights"]["maxItems"] = 1
    merged, over = merge(capped, documents)
    assert merged["insights"] == [{"text": "a", "kind": "idea"}] and over == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"item_per_bullet": {"reminders": "all"}}, "item_per_bullet: 'reminders' must be one of exactly_one"),
        ({"item_per_bullet": {"owner": "exactly_one"}}, "item_per_bullet: 'owner' has no summary_sections"),
        ({"item_per_bullet": {}}, "item_per_bullet"),
        ({"item_per_bullet": None, "skip_bullets": ["The assistant "]}, "skip_bullets: only lists named in"),
        ({"skip_bullets": [" "]}, "skip_bullets: an empty beginning"),
    ],
)
def test_a_per_bullet_map_that_cannot_work_is_refused_naming_it(change, expected):
    data = {key: value for key, value in (SHIPPED["nudge"].to_dict() | change).items() if value is not None}
    with pytest.raises(SystemDefinitionError) as caught:
        SystemDefinition.from_dict(data, source="nudge.json")
    assert expected in caught.value.problem


def test_the_per_bullet_map_is_kept_in_the_definition_and_its_prompt_version():
    from edge_worker.prompting import prompt_version

    nudge = SHIPPED["nudge"]
    assert nudge.to_dict()["item_per_bullet"] == {"reminders": "exactly_one", "habits": "at_most_one"}
    whole = SystemDefinition.from_dict({k: v for k, v in nudge.to_dict().items() if k != "item_per_bullet"})
    assert prompt_version(whole) != prompt_version(nudge)
    assert [part.lists for part in whole.parts_for(SUMMARY)] == [("reminders", "habits")]


def test_a_quote_of_a_long_bullet_still_compiles_and_stays_within_its_length():
    from llguidance import LLMatcher

    bullet = " ".join(f"w{index}," for index in range(150))
    longest = " ".join(f"w{index}," for index in range(MAX_WORDS))
    for max_length in (None, 200):
        pattern = quoted(bullet, max_length)
        grammar = LLMatcher.grammar_from_json_schema({"type": "string", "pattern": pattern})
        assert LLMatcher.validate_grammar_with_warnings(grammar) == (False, [])
        assert bool(re.fullmatch(pattern, longest)) == (max_length is None)
        assert not re.fullmatch(pattern, longest + " w60,")
        if max_length:
            assert all(
                len(match) <= max_length
                for match in (longest[:k] for k in range(len(longest)))
                if re.fullmatch(pattern, match)
            )


def _with(schema: dict, **properties) -> dict:
    return SHIPPED["synapse"].to_dict() | {"schema": schema | {"properties": schema["properties"] | properties}}


def test_definitions_per_bullet_lists_cannot_work_with_are_refused_or_handled():
    synapse = SHIPPED["synapse"].schema
    tags = {"type": "array", "minItems": 1, "items": {"type": "string"}}
    with pytest.raises(SystemDefinitionError) as caught:  # a bullet's part could not leave it empty
        SystemDefinition.from_dict(_with(synapse, tags=tags) | {"examples": []})
    assert "item_per_bullet: 'tags' has minItems" in caught.value.problem
    loose = SystemDefinition.from_dict(_with(synapse, note=True) | {"examples": []})  # a property schema `true`
    assert [part.lists for part in loose.parts_for(SUMMARY)][:1] == [("insights",)]
    planner = SHIPPED["planner"].to_dict()
    task = planner["schema"]["properties"]["tasks"]["items"]
    planner["schema"] = planner["schema"] | {"$defs": {"task": task}}
    planner["schema"]["properties"] = planner["schema"]["properties"] | {
        "tasks": planner["schema"]["properties"]["tasks"] | {"items": {"$ref": "#/$defs/task"}}
    }
    planner["key_fields"] = {"events": ["title"]}  # key fields are not looked up through a $ref
    shared = SystemDefinition.from_dict(planner).parts_for(SUMMARY)[1].schema  # tasks or events: an anyOf
    document = {
        "tasks": [{"title": "Meets Priya Nair", "due": None, "priority": "low", "status": "todo"}],
        "events": [],
    }
    assert "anyOf" in shared and output_validator(shared).is_valid(document)
