"""Training data split into the decodings the translator serves (edge_worker.tuning.data.served_examples): a
bullet's part learns the expected item its bullet writes, the whole-summary part the other lists."""

from __future__ import annotations

from edge_worker.tuning.data import served_examples
from schemas.system_definition import load_systems

SHIPPED = load_systems().systems
SUMMARY = "\n\n".join(
    (
        "Overview\nThe user prepared a pitch in a session on Monday 2025-10-27 (+01:00).",
        "People\n- Karim Haddad: colleague.",
        "Commitments\n"
        "- The user has started drafting the slides for the Lumen Bank pitch and wants them done by Monday 2025-11-03.\n"
        "- The user will present at the pitch with Karim Haddad on Tuesday 2025-11-04 from 14:00 to 15:00 (+01:00) "
        "at Lumen Bank.\n"
        "- The user cancelled the dinner with Karim Haddad.\n"
        "- The assistant will draft the agenda.",
        "Reminders\nNone.",
        "Insights\nNone.",
        "Open questions\nNone.",
    )
)
SLIDES = {
    "title": "Finish the slides for the Lumen Bank pitch",
    "due": "2025-11-03",
    "priority": "medium",
    "status": "in_progress",
}
PITCH = {"title": "Lumen Bank pitch", "start": "2025-11-04T14:00:00+01:00"}


def test_each_bullet_learns_the_item_it_writes_matched_one_to_one():
    planner = SHIPPED["planner"]
    served = served_examples(planner, [{"summary": SUMMARY, "expected": {"tasks": [SLIDES], "events": [PITCH]}}])
    # the slides bullet shares more words with the task than with the event, the pitch bullet takes the event; the
    # cancelled dinner writes no expected item and a commitment is exactly one item, so it is no example
    assert [example["expected"] for example in served] == [
        {"tasks": [SLIDES], "events": []},
        {"tasks": [], "events": [PITCH]},
    ]
    assert "- The user has started drafting" in served[0]["summary"] and "present" not in served[0]["summary"]


def test_a_bullet_of_an_at_most_one_list_may_learn_nothing_and_the_whole_part_learns_the_rest():
    synapse = SHIPPED["synapse"]
    summary = SUMMARY.replace("Insights\nNone.", "Insights\n- The user prefers morning meetings.")
    expected = {"insights": [], "topics": ["pitching"], "links": [], "open_questions": []}
    nudge = SHIPPED["nudge"]
    [habit] = served_examples(nudge, [{"summary": summary, "expected": {"reminders": [], "habits": []}}])
    assert habit["expected"] == {"reminders": [], "habits": []}  # at_most_one: the bullet learns "none"
    served = served_examples(synapse, [{"summary": summary, "expected": expected}])
    assert [example["expected"] for example in served] == [expected], "an exactly_one bullet without its item: out"
    assert served[0]["summary"] == summary
