"""SummarizeService over fakes: one LLM call per content, failures recorded, the edge asked once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from cloud_fakes import (
    FakeEdgeQueue,
    FakeRegistryStore,
    FakeSessionStore,
    FakeSummarizer,
    FakeUsageStore,
    make_session,
    summary_result,
)

from functions.clock import utc_now
from functions.summarize.pricing import cost_usd
from functions.summarize.prompt import prompt_version
from functions.summarize.service import SessionFailed, SummarizeService
from functions.summarize.summarizer import SummarizerError
from schemas.contracts import SummarizeRequest, TokenUsage


class World:
    def __init__(self, max_attempts: int = 3) -> None:
        self.sessions, self.registry, self.usage = FakeSessionStore(), FakeRegistryStore(), FakeUsageStore()
        self.edge_queue, self.summarizer = FakeEdgeQueue(), FakeSummarizer()
        self.service = SummarizeService(
            self.sessions, self.registry, self.usage, self.edge_queue, lambda: self.summarizer, max_attempts
        )
        self.made: dict[tuple[str, str], dict] = {}

    def accept(self, session_id: str = "s-1", text: str = "Book the dentist") -> SummarizeRequest:
        session = make_session(session_id, text=text)
        content_hash = session.content_hash()
        self.sessions.create(session, content_hash, self.sessions.put_raw(session, content_hash)[0])
        return SummarizeRequest(session_id=session_id, content_hash=content_hash)

    def summarize_once(self, request: SummarizeRequest) -> dict:
        """As the idempotency layer does: a completed call's result is returned again, a raised one is not kept."""
        key = (request.session_id, request.content_hash)
        if key not in self.made:
            self.made[key] = self.service.summarize(request)
        return self.made[key]

    def handle(self, request: SummarizeRequest, attempt: int = 1) -> str:
        return self.service.handle(request, attempt, self.summarize_once)


@pytest.fixture
def world() -> World:
    return World()


def test_a_session_is_summarized_recorded_and_sent_to_the_edge(world):
    request = world.accept()
    assert world.handle(request) == "summarized"
    record = world.sessions.record("s-1")
    assert record.status.value == "SUMMARIZED" and record.error is None
    assert world.sessions.summary_text(record.summary_key) == "Summary of s-1."
    assert record.summarizer_prompt_version == prompt_version()
    assert world.registry.entry(record.summarizer_model_version, "summarizer-model")["content"] == {
        "provider": "anthropic",
        "model_id": "claude-haiku-4-5",
    }
    expected_cost = cost_usd("claude-haiku-4-5", TokenUsage(input_tokens=1000, output_tokens=200))
    assert record.cost_usd == Decimal(str(round(expected_cost, 8)))
    (row,) = world.usage.rows.values()
    assert row["calls"] == 1 and row["input_tokens"] == 1000
    (message,) = world.edge_queue.sent
    assert (message.summary_id, message.system, message.reason) == ("s-1", None, "new")


def test_redeliveries_make_no_second_call_and_no_second_translation(world):
    request = world.accept()
    for attempt in (1, 2, 3):
        assert world.handle(request, attempt) == "summarized"
    assert len(world.summarizer.calls) == 1 and len(world.edge_queue.sent) == 1
    assert world.usage.rows[next(iter(world.usage.rows))]["calls"] == 1


def test_withdrawn_or_replaced_content_is_stale(world):
    request = world.accept()
    assert world.handle(SummarizeRequest(session_id="s-9", content_hash=request.content_hash)) == "stale"
    assert world.handle(SummarizeRequest(session_id="s-1", content_hash="0" * 64)) == "stale"
    assert world.summarizer.calls == [] and world.edge_queue.sent == []


def test_a_retryable_error_keeps_the_session_received_until_the_last_attempt(world):
    request = world.accept()
    world.summarizer.script = [SummarizerError("overloaded", retryable=True)] * 3
    for attempt in (1, 2):
        with pytest.raises(SessionFailed):
            world.handle(request, attempt)
        item = world.sessions.get("s-1")
        assert (item["status"], item["attempts"], item["error"]) == ("RECEIVED", attempt, "overloaded")
    with pytest.raises(SessionFailed):
        world.handle(request, 3)
    assert world.sessions.get("s-1")["status"] == "FAILED" and world.edge_queue.sent == []
    with pytest.raises(SessionFailed, match="is FAILED"):  # a message redelivered after that goes to the DLQ
        world.handle(request, 4)
    assert len(world.summarizer.calls) == 3


def test_an_error_that_retrying_cannot_help_fails_at_once(world):
    request = world.accept()
    world.summarizer.script = [SummarizerError("the model refused", retryable=False)]
    with pytest.raises(SessionFailed):
        world.handle(request, 1)
    record = world.sessions.record("s-1")
    assert (record.status.value, record.error, record.attempts) == ("FAILED", "the model refused", 1)


def test_each_failed_attempt_is_logged_with_its_session_attempt_and_reason(world, caplog):
    request = world.accept()
    world.summarizer.script = [SummarizerError("overloaded", retryable=True)] * 2
    for attempt in (1, 3):
        with pytest.raises(SessionFailed):
            world.handle(request, attempt)
    failed = [record for record in caplog.records if record.getMessage() == "summary failed"]
    assert [(r.levelname, r.session_id, r.attempt, r.final, r.error) for r in failed] == [
        ("WARNING", "s-1", 1, False, "overloaded"),
        ("WARNING", "s-1", 3, True, "overloaded"),
    ]
    assert {r.max_attempts for r in failed} == {3}
    with pytest.raises(SessionFailed, match="is FAILED"):
        world.handle(request, 4)
    began = [r.session_id for r in caplog.records if r.getMessage() == "summarizing"]
    assert began == ["s-1", "s-1"]  # each call said when it began; the FAILED session's redelivery made none
    [sent_on] = [r for r in caplog.records if r.getMessage() == "message for a FAILED session sent on to the DLQ"]
    assert sent_on.session_id == "s-1"


def test_any_other_failure_is_named_by_its_type(world):
    request = world.accept()
    world.summarizer.script = [KeyError("raw_key")]
    with pytest.raises(SessionFailed):
        world.handle(request, 1)
    assert world.sessions.get("s-1")["error"] == "KeyError: 'raw_key'"


def test_batch_results_are_priced_at_the_batch_rate(world):
    request = world.accept()
    made = world.service.summarize(request)
    world.service.record(request, made, batch=True)
    usage = TokenUsage(input_tokens=1000, output_tokens=200)
    assert world.sessions.record("s-1").cost_usd == Decimal(str(round(cost_usd("claude-haiku-4-5", usage) / 2, 8)))


def test_an_unpriced_model_records_tokens_with_cost_unknown_and_warns_once(world, caplog):
    world.summarizer.script = [summary_result(model_id="claude-mystery-9"), summary_result(model_id="claude-mystery-9")]
    for session_id in ("s-1", "s-2"):
        assert world.handle(world.accept(session_id)) == "summarized"
        record = world.sessions.record(session_id)
        assert record.status.value == "SUMMARIZED" and record.cost_usd is None and record.usage.output_tokens == 200
    [row] = world.usage.day(utc_now()[:10])
    assert (row["calls"], row["unpriced_calls"], row["output_tokens"]) == (2, 2, 400) and "cost_usd" not in row
    warnings = [record for record in caplog.records if "no price" in record.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    assert getattr(warnings[0], "model_id", None) == "claude-mystery-9"


def test_bookkeeping_that_fails_after_the_paid_call_does_not_fail_the_session(world):
    def broken(*args, **kwargs):
        raise RuntimeError("usage table unreachable")

    world.usage.add = broken
    assert world.handle(world.accept()) == "summarized"
    assert world.sessions.record("s-1").status.value == "SUMMARIZED"


def test_a_call_whose_summary_cannot_be_stored_is_still_counted_as_paid(world):
    def unreachable(*args, **kwargs):
        raise ConnectionError("S3 unreachable")

    request = world.accept()
    world.sessions.put_summary_text = unreachable
    with pytest.raises(SessionFailed):
        world.handle(request, 1)
    [row] = world.usage.day(utc_now()[:10])
    assert (row["calls"], row["output_tokens"]) == (1, 200) and row["cost_usd"] > 0


def test_a_session_deleted_during_its_call_is_not_recorded_or_translated(world):
    request = world.accept()

    def deleted_meanwhile(session, deadline=None):
        world.sessions.items["s-1"]["status"] = "DELETING"  # the deletion lands while the model writes
        return summary_result_for(session)

    world.summarizer.summarize = deleted_meanwhile  # type: ignore[method-assign]
    assert world.handle(request) == "stale"
    assert world.sessions.items["s-1"]["status"] == "DELETING" and "summary_key" not in world.sessions.items["s-1"]
    assert world.edge_queue.sent == [] and world.usage.rows == {}


def test_a_session_being_deleted_is_not_summarized(world):
    request = world.accept()
    world.sessions.items["s-1"]["status"] = "DELETING"
    assert world.handle(request) == "stale"
    world.sessions.items["s-1"]["status"] = "RECEIVED"
    world.made.clear()

    def deleted_before_the_call(request):
        world.sessions.items["s-1"]["status"] = "DELETING"  # read again once the idempotency record exists
        return world.service.summarize(request)

    assert world.service.handle(request, 1, deleted_before_the_call) == "stale"
    assert world.summarizer.calls == [] and world.sessions.items["s-1"]["status"] == "DELETING"


def summary_result_for(session):
    from cloud_fakes import summary_result

    return summary_result(f"Summary of {session.session_id}.")
