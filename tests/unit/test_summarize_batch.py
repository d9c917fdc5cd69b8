"""BatchSubmitter over fakes (SummarizerMode=batch): each queued session goes into one Message Batch, once."""

from __future__ import annotations

import pytest
from cloud_fakes import FakeSessionStore, FakeSummarizer, make_session

from functions.summarize.batch import BatchSubmitter, custom_id_for
from functions.summarize.summarizer import SummarizerError
from schemas.contracts import SummarizeRequest


class World:
    def __init__(self) -> None:
        self.sessions, self.summarizer = FakeSessionStore(), FakeSummarizer()
        self.submitter = BatchSubmitter(self.sessions, lambda: self.summarizer, max_attempts=2)

    def accept(self, session_id: str) -> SummarizeRequest:
        session = make_session(session_id)
        content_hash = session.content_hash()
        self.sessions.create(session, content_hash, self.sessions.put_raw(session, content_hash)[0])
        return SummarizeRequest(session_id=session_id, content_hash=content_hash)

    def deliver(self, *bodies: str, receive_count: int = 1) -> list[str]:
        event = {
            "Records": [
                {"messageId": f"m-{n}", "body": body, "attributes": {"ApproximateReceiveCount": str(receive_count)}}
                for n, body in enumerate(bodies)
            ]
        }
        return [f["itemIdentifier"] for f in self.submitter.handle(event, claim_ttl_s=900)["batchItemFailures"]]


@pytest.fixture
def world() -> World:
    return World()


def test_queued_sessions_go_out_as_one_batch_and_name_it(world):
    first, second = world.accept("s-1"), world.accept("pln.2025:odd")
    assert world.deliver(first.model_dump_json(), second.model_dump_json(), first.model_dump_json()) == []
    ((batch_id, requests),) = world.summarizer.batches.items()
    assert [custom_id for custom_id, _ in requests] == ["s-1", custom_id_for("pln.2025:odd")]
    for session_id in ("s-1", "pln.2025:odd"):
        record = world.sessions.record(session_id)
        assert (record.status.value, record.batch_id, record.batch_state, record.batch_claim) == (
            "RECEIVED",
            batch_id,
            "PENDING",
            None,
        )


def test_a_session_already_in_a_batch_is_not_submitted_again(world):
    request = world.accept("s-1")
    world.deliver(request.model_dump_json())
    assert world.deliver(request.model_dump_json(), receive_count=2) == []
    assert len(world.summarizer.batches) == 1


def test_unreadable_messages_and_failed_sessions_are_delivered_again(world):
    request = world.accept("s-1")
    world.sessions.mark_failed("s-1", "earlier failure", attempts=2, final=True)
    assert world.deliver("{not json", request.model_dump_json()) == ["m-0", "m-1"]
    assert world.summarizer.batches == {}


def test_a_failed_submission_gives_the_claims_back_and_fails_on_the_last_attempt(world):
    request = world.accept("s-1")
    world.summarizer.fail_submit = SummarizerError("overloaded", retryable=True)
    assert world.deliver(request.model_dump_json(), receive_count=1) == ["m-0"]
    item = world.sessions.get("s-1")
    assert (item["status"], item["error"]) == ("RECEIVED", "overloaded") and "batch_claim" not in item
    assert world.deliver(request.model_dump_json(), receive_count=2) == ["m-0"]
    assert world.sessions.get("s-1")["status"] == "FAILED"


def test_a_live_claim_of_another_submitter_is_respected(world):
    request = world.accept("s-1")
    assert world.sessions.claim_for_batch("s-1", request.content_hash, "other", now_s=0, expires_s=2**40)
    assert world.deliver(request.model_dump_json()) == ["m-0"] and world.summarizer.batches == {}
