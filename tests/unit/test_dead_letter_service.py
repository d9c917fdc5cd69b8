"""A summarize message in the dead-letter queue leaves its session FAILED with the reason, never RECEIVED."""

from __future__ import annotations

from cloud_fakes import FakeSessionStore, make_session

from functions.dead_letter.service import DeadLetters
from schemas.contracts import SummarizeRequest


def accepted(sessions: FakeSessionStore, session_id: str) -> SummarizeRequest:
    session = make_session(session_id)
    content_hash = session.content_hash()
    sessions.create(session, content_hash, sessions.put_raw(session, content_hash)[0])
    return SummarizeRequest(session_id=session_id, content_hash=content_hash)


def test_a_session_no_delivery_finished_ends_failed_naming_why_and_its_last_error():
    sessions = FakeSessionStore()
    request = accepted(sessions, "s-1")
    sessions.begin_attempt("s-1", request.content_hash, 2)
    sessions.mark_failed("s-1", "anthropic request timed out after 4s (retries exhausted)", 2, final=False)
    assert DeadLetters(sessions, max_attempts=3).settle(request) == "failed"
    record = sessions.record("s-1")
    assert record.status.value == "FAILED" and record.attempts == 3
    assert "dead-letter queue" in record.error and "timed out after 4s" in record.error
    assert DeadLetters(sessions, max_attempts=3).settle(request) == "already_settled"  # delivered twice: no change


def test_a_summarized_withdrawn_or_batched_session_is_left_as_it_is():
    sessions = FakeSessionStore()
    done, batched = accepted(sessions, "s-done"), accepted(sessions, "s-batched")
    sessions.items["s-done"]["status"] = "SUMMARIZED"
    sessions.items["s-batched"]["batch_id"] = "msgbatch_1"
    dead_letters = DeadLetters(sessions, max_attempts=3)
    assert dead_letters.settle(done) == "already_settled"
    assert dead_letters.settle(batched) == "in_a_batch" and sessions.record("s-batched").status.value == "RECEIVED"
    other_content = SummarizeRequest(session_id="s-done", content_hash="0" * 64)
    assert dead_letters.settle(other_content) == "stale"
    assert dead_letters.settle(SummarizeRequest(session_id="s-none", content_hash="0" * 64)) == "stale"


def test_each_delivery_shows_on_the_session_before_the_summary_is_made():
    sessions = FakeSessionStore()
    request = accepted(sessions, "s-1")
    assert sessions.begin_attempt("s-1", request.content_hash, 1)
    assert not sessions.begin_attempt("s-1", request.content_hash, 1)  # the same delivery again: no change
    assert sessions.record("s-1").attempts == 1
