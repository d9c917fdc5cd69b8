"""Every date filter means the session's own date (the date of started_at in its own offset), whatever day the
server received it, and from/to work with every other filter of the list and of search, by paginated Queries."""

from __future__ import annotations

import itertools

import pytest
from stack_helpers import api_client, make_token, running_stack, wait_for_stack

# session id: (started_at, source, user); what each filter must find is written out in the tests below.
SESSIONS = {
    "new-years-eve": ("2024-12-31T23:30:00-08:00", "planner", "u-1"),  # 2025-01-01 in UTC
    "tokyo-morning": ("2025-01-01T00:30:00+09:00", "nudge", "u-2"),  # 2024-12-31 in UTC
    "the-day-before": ("2024-12-30T10:00:00Z", "planner", "u-1"),
    "the-day-after": ("2025-01-02T01:00:00+00:00", "nudge", "u-1"),
}


def body(session_id: str) -> dict:
    started_at, source, user = SESSIONS[session_id]
    return {
        "session_id": session_id,
        "source": source,
        "user_id": user,
        "started_at": started_at,
        "ended_at": started_at,
        "turns": [{"role": "user", "content": f"Plan the dentist visit and the budget ({session_id})"}],
    }


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    log = tmp_path_factory.mktemp("scans") / "scans.jsonl"
    with running_stack(extra_env={"SSP_SCAN_LOG": str(log)}, worker_preload=("scan_guard",)) as stack:
        for source in ("planner", "nudge"):
            with api_client(stack, make_token(stack, ["ingest"], source=source, name=source)) as client:
                for session_id, (_, its_source, _) in SESSIONS.items():
                    if its_source == source:
                        assert client.post("/sessions", json=body(session_id)).status_code == 202
        with api_client(stack, make_token(stack, ["read"], name="reader")) as client:
            for session_id in SESSIONS:
                wait_for_stack(
                    stack, lambda sid=session_id: client.get(f"/summaries/{sid}").json()["status"] == "SUMMARIZED"
                )
            wait_for_stack(
                stack, lambda: len(client.get("/search", params={"q": "dentist", "k": "10"}).json()["items"]) == 4
            )
            yield client
        assert not log.exists(), log.read_text()  # no Scan on any of these requests


def listed(client, **params) -> list[str]:
    """Every session the list gives for these filters, following `next` one item at a time."""
    found, token = [], None
    for _ in range(50):
        page = client.get("/summaries", params={**params, "limit": "1", **({"next": token} if token else {})})
        assert page.status_code == 200, page.text
        found += [item["session_id"] for item in page.json()["items"]]
        token = page.json()["next"]
        if not token:
            return found
    raise AssertionError("the pages never ended")


NEW_YEAR = {"from": "2024-12-31", "to": "2025-01-01"}


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({}, {"new-years-eve", "tokyo-morning"}),
        ({"status": "SUMMARIZED"}, {"new-years-eve", "tokyo-morning"}),
        ({"source": "planner"}, {"new-years-eve"}),
        ({"user": "u-2"}, {"tokyo-morning"}),
        ({"status": "SUMMARIZED", "source": "nudge"}, {"tokyo-morning"}),
        ({"source": "planner", "user": "u-1"}, {"new-years-eve"}),
        ({"status": "FAILED"}, set()),
    ],
)
def test_from_and_to_are_the_sessions_own_dates_with_every_other_filter(reader, filters, expected):
    found = listed(reader, **NEW_YEAR, **filters)
    assert sorted(found) == sorted(expected)  # each once


def test_a_range_without_other_filters_spans_every_day_in_it_newest_first(reader):
    assert listed(reader, **{"from": "2024-12-30", "to": "2025-01-02"}) == [
        "the-day-after",
        "tokyo-morning",
        "new-years-eve",
        "the-day-before",
    ]
    assert listed(reader, **{"from": "2024-12-31", "to": "2024-12-31"}) == ["new-years-eve"]
    assert listed(reader, **{"from": "2025-01-01", "to": "2025-01-01", "user": "u-1"}) == []


@pytest.mark.parametrize("extra", [{}, {"status": "SUMMARIZED"}, {"user": "u-1"}])
def test_one_bound_alone_leaves_the_other_side_open(reader, extra):
    everyone = {sid for sid, (_, _, user) in SESSIONS.items() if extra.get("user", user) == user}
    assert set(listed(reader, to="2024-12-31", **extra)) == everyone & {"new-years-eve", "the-day-before"}
    assert set(listed(reader, **{"from": "2025-01-01"}, **extra)) == everyone & {"tokyo-morning", "the-day-after"}
    assert set(listed(reader, **extra)) == everyone


def test_search_filters_by_the_sessions_own_date(reader):
    def hits(**params) -> set[str]:
        answer = reader.get("/search", params={"q": "dentist", "k": "10", **params})
        assert answer.status_code == 200, answer.text
        return {item["summary_id"] for item in answer.json()["items"]}

    assert hits(**NEW_YEAR) == {"new-years-eve", "tokyo-morning"}
    assert hits(**{"from": "2025-01-01", "to": "2025-01-01"}) == {"tokyo-morning"}  # new-years-eve is 12-31 there
    assert hits(**{"from": "2024-12-31", "to": "2024-12-31"}) == {"new-years-eve"}
    days = {item["summary_id"]: item["day"] for item in reader.get("/search", params={"q": "dentist"}).json()["items"]}
    assert days == {sid: started[:10] for sid, (started, _, _) in SESSIONS.items()}
    similar = reader.get("/summaries/new-years-eve/similar", params=NEW_YEAR).json()["items"]
    assert [item["summary_id"] for item in similar] == ["tokyo-morning"]


@pytest.mark.parametrize(
    "params, code",
    [
        ({"from": "2025-01-02", "to": "2025-01-01"}, "invalid_range"),
        ({"from": "2025-13-01"}, "invalid_date"),
        ({"user": "not a user id"}, "invalid_filter"),
        ({"status": "LOST"}, "invalid_status"),
    ],
)
def test_bad_date_and_filter_values_are_named(reader, params, code):
    answer = reader.get("/summaries", params=params)
    assert answer.status_code == 400 and answer.json()["error"] == code, answer.text


def test_every_combination_of_filters_is_answered(reader):
    choices = {
        "status": ["SUMMARIZED"],
        "source": ["planner"],
        "user": ["u-1"],
        "from": ["2024-12-31"],
        "to": ["2025-01-01"],
    }
    for size in range(len(choices) + 1):
        for names in itertools.combinations(choices, size):
            params = {name: choices[name][0] for name in names}
            answer = reader.get("/summaries", params=params)
            assert answer.status_code == 200, (params, answer.text)
