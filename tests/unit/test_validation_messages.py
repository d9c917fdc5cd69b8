"""A refused body's message names the field as the client wrote it, in words, without pydantic's own names."""

from __future__ import annotations

import pytest

from functions.errors import ClientError
from functions.http.request_body import parse_contract
from schemas.contracts import Session

BASE = {
    "session_id": "s-1",
    "source": "planner",
    "user_id": "u-1",
    "started_at": "2026-11-24T09:00:00Z",
    "ended_at": "2026-11-24T09:10:00Z",
    "turns": [{"role": "user", "content": "Book the dentist"}],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"turns": [{"role": "user", "content": ""}]}, "turns.0.content: String should have at least 1 character"),
        (
            {"turns": [{"role": "user", "content": "x" * 100_001}]},
            "turns.0.content: String should have at most 100000 characters",
        ),
        (
            {"ended_at": "2026-11-24T08:00:00Z"},
            "(body): ended_at (2026-11-24T08:00:00+00:00) is before started_at (2026-11-24T09:00:00+00:00)",
        ),
    ],
)
def test_the_first_problem_reads_as_written(change, message):
    with pytest.raises(ClientError) as refused:
        parse_contract(Session, {**BASE, **change})
    assert str(refused.value.message) == message
    assert all("[" not in d["field"] and "-" not in d["field"] for d in refused.value.details)
