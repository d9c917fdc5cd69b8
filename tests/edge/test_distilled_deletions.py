"""Distilled training rows follow their summaries: rows of a summary the cloud answers 404/410 for are dropped from
every system's distilled.jsonl, nothing is dropped on a doubt, and a row appended meanwhile is never lost."""

from __future__ import annotations

import json
import threading

import pytest

from edge_worker.api_client import ApiRejected, ApiUnavailable
from edge_worker.distill import forget_deleted
from edge_worker.tuning.data import distilled_lock, distilled_path, drop_distilled, read_distilled


class Cloud:
    """The edge API's summary route over a set of stored ids; other ids answer `missing` (404 by default)."""

    def __init__(self, stored: set[str], missing: int = 404) -> None:
        self.stored, self.missing, self.asked = stored, missing, []

    def summary(self, summary_id: str):
        self.asked.append(summary_id)
        if summary_id not in self.stored:
            raise ApiRejected(self.missing, {"error": "not_found", "message": f"no summarized session {summary_id}"})
        return object()


def write_rows(system: str, *summary_ids: str) -> None:
    path = distilled_path(system)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for summary_id in summary_ids:
            row = {"summary_id": summary_id, "text": f"text of {summary_id}", "document": {}, "schema_version": "s"}
            handle.write(json.dumps(row) + "\n")


def ids(system: str) -> list[str]:
    return [row["summary_id"] for row in read_distilled(system)]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SSP_HOME", str(tmp_path))


def test_rows_of_deleted_summaries_go_from_every_system_and_the_rest_stay_in_order():
    write_rows("planner", "a", "gone-1", "b", "gone-2")
    write_rows("nudge", "gone-1", "c")
    cloud = Cloud({"a", "b", "c"})
    assert forget_deleted(cloud) == {"planner": 2, "nudge": 1}
    assert ids("planner") == ["a", "b"] and ids("nudge") == ["c"]
    assert sorted(cloud.asked) == ["a", "b", "c", "gone-1", "gone-2"]  # each summary asked once
    assert forget_deleted(cloud) == {}


def test_summaries_a_complete_listing_returned_are_not_asked_about():
    write_rows("planner", "a", "gone")
    cloud = Cloud({"a"}, missing=410)
    assert forget_deleted(cloud, listed={"a"}) == {"planner": 1}
    assert cloud.asked == ["gone"] and ids("planner") == ["a"]


@pytest.mark.parametrize("error", [ApiUnavailable("connection refused"), ApiRejected(403, {"message": "scope"})])
def test_nothing_is_dropped_when_the_cloud_cannot_say(error):
    write_rows("planner", "gone", "a")

    class Broken(Cloud):
        def summary(self, summary_id: str):
            if summary_id == "a":
                raise error
            return super().summary(summary_id)

    with pytest.raises(type(error)):
        forget_deleted(Broken(set()))
    assert ids("planner") == ["gone", "a"]


def test_a_row_appended_while_the_file_is_rewritten_is_kept():
    write_rows("planner", "gone", "a")
    appended = threading.Event()

    def append() -> None:
        with distilled_lock("planner"):
            write_rows("planner", "new")
        appended.set()

    with distilled_lock("planner"):
        writer = threading.Thread(target=append)
        writer.start()
        assert not appended.wait(0.2)  # the lock holds the append back
    writer.join(5)
    assert drop_distilled("planner", {"gone"}) == 1
    assert ids("planner") == ["a", "new"]
