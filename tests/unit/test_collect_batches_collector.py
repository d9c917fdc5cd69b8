"""BatchCollector over fakes: ended batches are recorded like direct calls; failures stay visible and retryable."""

from __future__ import annotations

import pytest
from cloud_fakes import FakeEdgeQueue, FakeRegistryStore, FakeUsageStore
from test_summarize_batch import World as SubmitWorld

from functions.collect_batches.collector import COLLECT_RESERVE_MS, BatchCollector
from functions.summarize.service import SummarizeService
from functions.summarize.summarizer import SummarizerError


class World(SubmitWorld):
    def __init__(self) -> None:
        super().__init__()
        self.edge_queue, self.usage = FakeEdgeQueue(), FakeUsageStore()
        service = SummarizeService(
            self.sessions, FakeRegistryStore(), self.usage, self.edge_queue, lambda: self.summarizer, max_attempts=1
        )
        self.collector = BatchCollector(self.sessions, service, lambda: self.summarizer)

    def submit(self, *session_ids: str) -> str:
        assert self.deliver(*(self.accept(s).model_dump_json() for s in session_ids)) == []
        return list(self.summarizer.batches)[-1]


@pytest.fixture
def world() -> World:
    return World()


def test_a_batch_in_progress_is_left_for_the_next_run(world):
    world.submit("s-1")
    assert world.collector.collect() == {"in_progress": 1}
    assert world.sessions.get("s-1")["batch_state"] == "PENDING"


def test_results_are_recorded_sent_to_the_edge_and_settled(world):
    batch_id = world.submit("s-1", "s-2")
    world.summarizer.end(batch_id, **{"s-2": SummarizerError("request errored: invalid_request_error", False)})
    assert world.collector.collect() == {"summarized": 1, "failed": 1, "ended": 1}
    done, failed = world.sessions.record("s-1"), world.sessions.record("s-2")
    assert (done.status.value, done.batch_state) == ("SUMMARIZED", None)
    assert world.sessions.summary_text(done.summary_key) == "Summary of s-1."
    assert (failed.status.value, failed.failed_batch_id, failed.batch_id) == ("FAILED", batch_id, None)
    assert [m.summary_id for m in world.edge_queue.sent] == ["s-1"]
    assert world.collector.collect() == {}  # nothing pending any more


def test_a_session_the_batch_has_no_result_for_fails_visibly(world):
    batch_id = world.submit("s-1", "s-2")
    world.summarizer.end(batch_id)
    del world.summarizer.outcomes[batch_id]["s-2"]
    world.collector.collect()
    assert world.sessions.get("s-2")["status"] == "FAILED" and "without a result" in world.sessions.get("s-2")["error"]


def test_a_batch_the_api_does_not_know_fails_its_sessions(world):
    batch_id = world.submit("s-1")
    del world.summarizer.batches[batch_id]
    assert world.collector.collect() == {"lost": 1, "failed": 1}
    assert world.sessions.get("s-1")["status"] == "FAILED"


def test_collecting_stops_when_the_invocation_runs_out_of_time(world):
    world.submit("s-1")
    assert world.collector.collect(lambda: COLLECT_RESERVE_MS - 1) == {"deferred": 1}


def test_a_result_for_a_session_deleted_meanwhile_is_not_kept(world, monkeypatch):
    batch_id = world.submit("s-1")
    world.summarizer.end(batch_id)
    stored = world.sessions.put_summary_text

    def deleted_while_storing(session_id: str, text: str) -> str:
        key = stored(session_id, text)
        world.sessions.items["s-1"]["status"] = "DELETING"  # the deletion lands between the check and the record
        return key

    monkeypatch.setattr(world.sessions, "put_summary_text", deleted_while_storing)
    assert world.collector.collect() == {"stale": 1, "ended": 1}
    assert not any(key.startswith("summaries/") for key in world.sessions.objects)
    assert world.sessions.items["s-1"]["status"] == "DELETING" and world.edge_queue.sent == []
