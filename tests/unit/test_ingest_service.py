"""IngestService over in-memory stores: accept all-or-nothing, once per content; status and retry by source."""

from __future__ import annotations

import pytest
from cloud_fakes import FakeSessionStore, FakeSummarizeQueue, make_session

from functions.errors import ClientError
from functions.http.auth import Principal
from functions.ingest.service import IngestService
from schemas.contracts import Session, SummarizeRequest

PLANNER = Principal("planner-service", frozenset({"ingest"}), "planner")
NUDGE = Principal("nudge-service", frozenset({"ingest"}), "nudge")
READER = Principal("dashboard", frozenset({"read"}), None)


@pytest.fixture
def sessions() -> FakeSessionStore:
    return FakeSessionStore()


@pytest.fixture
def queue() -> FakeSummarizeQueue:
    return FakeSummarizeQueue()


@pytest.fixture
def service(sessions, queue) -> IngestService:
    return IngestService(sessions, queue, max_turns=3)


def test_a_new_session_is_stored_recorded_and_queued(service, sessions, queue):
    session = make_session("s-1")
    accepted = service.accept(session, PLANNER)
    assert accepted.created and accepted.item["status"] == "RECEIVED"
    record = sessions.record("s-1")  # the stored item is what SummaryRecord describes
    assert record.content_hash == session.content_hash() and record.turn_count == 2 and record.systems == {}
    assert sessions.read_raw(record.raw_key) == session
    assert queue.sent == [SummarizeRequest(session_id="s-1", content_hash=session.content_hash())]


def test_the_same_content_again_is_accepted_once(service, queue):
    service.accept(make_session("s-1"), PLANNER)
    again = service.accept(make_session("s-1"), PLANNER)
    assert not again.created and again.item["status"] == "RECEIVED"
    assert len(queue.sent) == 1


def test_other_content_under_an_accepted_id_is_a_conflict_and_changes_nothing(service, sessions, queue):
    service.accept(make_session("s-1"), PLANNER)
    before = (sessions.get("s-1"), dict(sessions.objects))
    with pytest.raises(ClientError) as error:
        service.accept(make_session("s-1", text="Something else"), PLANNER)
    assert (error.value.status, error.value.code) == (409, "conflict")
    assert (sessions.get("s-1"), sessions.objects) == before and len(queue.sent) == 1


def test_a_session_that_cannot_be_queued_leaves_nothing_behind(service, sessions, queue):
    queue.fail = True
    with pytest.raises(RuntimeError):
        service.accept(make_session("s-1"), PLANNER)
    assert sessions.items == {} and sessions.objects == {}


def test_a_failed_item_write_removes_the_raw_session(service, sessions, queue):
    sessions.fail_next_create = True
    with pytest.raises(RuntimeError):
        service.accept(make_session("s-1"), PLANNER)
    assert sessions.objects == {} and queue.sent == []


def test_losing_a_race_to_other_content_deletes_only_our_raw_copy(service, sessions, queue):
    winner = make_session("s-1", text="The winner")
    original_get = sessions.get
    calls = []

    def get_after_the_other_post(session_id):  # the other POST lands between our read and our write
        calls.append(session_id)
        if len(calls) == 1:
            sessions.create(winner, winner.content_hash(), sessions.put_raw(winner, winner.content_hash())[0])
            return None
        return original_get(session_id)

    sessions.get = get_after_the_other_post
    with pytest.raises(ClientError) as error:
        service.accept(make_session("s-1"), PLANNER)
    assert error.value.status == 409
    assert list(sessions.objects) == [sessions.items["s-1"]["raw_key"]] and queue.sent == []


def test_a_token_bound_to_another_source_is_refused_before_anything_is_stored(service, sessions):
    with pytest.raises(ClientError) as error:
        service.accept(make_session("s-1", source="planner"), NUDGE)
    assert error.value.status == 403 and sessions.items == {}


def test_too_many_turns_is_413(sessions, queue):
    service = IngestService(sessions, queue, max_turns=1)
    with pytest.raises(ClientError) as error:
        service.accept(make_session("s-1"), PLANNER)
    assert (error.value.status, error.value.code) == (413, "too_many_turns") and sessions.items == {}


def _turns(*contents) -> Session:
    data = make_session("s-blank").model_dump(mode="json")
    return Session.model_validate({**data, "turns": [{"role": "user", "content": c} for c in contents]})


@pytest.mark.parametrize(
    "contents",
    [
        (" ", "\n\t"),
        ("\u200b", "\u2066\u2069\ufeff"),
        ([{"type": "text", "text": "\u3000"}],),
        ("\u3164\u115f\u1160\uffa0", "\u2800\u034f\ufe0f"),
    ],
)
def test_a_session_of_blank_turns_is_422_with_nothing_stored_or_queued(service, sessions, queue, contents):
    with pytest.raises(ClientError) as error:
        service.accept(_turns(*contents), PLANNER)
    assert (error.value.status, error.value.code) == (422, "empty_session")
    assert sessions.items == {} and queue.sent == []


@pytest.mark.parametrize(
    "contents",
    [(" ", "ok"), ("\u200bx",), ([{"type": "image", "source": {"type": "url", "url": "https://e.test/a.png"}}],)],
)
def test_one_turn_with_something_to_read_is_enough(service, contents):
    assert service.accept(_turns(*contents), PLANNER).created


def test_a_blank_turn_with_fields_of_its_own_has_something_to_read(service):
    data = _turns(" ").model_dump(mode="json")
    data["turns"][0]["refusal"] = "I cannot help with that."  # kept in the turn's metadata; the summarizer reads it
    assert service.accept(Session.model_validate(data), PLANNER).created


def test_status_is_for_readers_and_for_the_source_that_posted(service):
    service.accept(make_session("s-1"), PLANNER)
    assert service.status("s-1", READER)["session_id"] == "s-1"
    assert service.status("s-1", PLANNER)["source"] == "planner"
    with pytest.raises(ClientError) as error:
        service.status("s-1", NUDGE)
    assert (error.value.status, error.value.message) == (404, "no session s-1")  # as an unknown id
    with pytest.raises(ClientError) as missing:
        service.status("s-2", READER)
    assert missing.value.status == 404


def test_retry_requeues_only_a_failed_session(service, sessions, queue):
    service.accept(make_session("s-1"), PLANNER)
    with pytest.raises(ClientError) as error:
        service.retry("s-1", PLANNER)
    assert (error.value.status, error.value.code) == (409, "not_failed")
    sessions.mark_failed("s-1", "overloaded", attempts=3, final=True)
    item = service.retry("s-1", PLANNER)
    assert item["status"] == "RECEIVED" and item["attempts"] == 0 and "error" not in item
    assert len(queue.sent) == 2 and queue.sent[-1].session_id == "s-1"
    with pytest.raises(ClientError) as other:
        service.retry("s-1", NUDGE)
    assert other.value.status == 404


def test_a_session_being_deleted_cannot_be_posted_again_until_it_is_gone():
    sessions, queue = FakeSessionStore(), FakeSummarizeQueue()
    service = IngestService(sessions, queue, max_turns=10)
    session = make_session("s-del")
    assert service.accept(session, PLANNER).created
    sessions.items["s-del"]["status"] = "DELETING"
    with pytest.raises(ClientError) as refused:
        service.accept(session, PLANNER)
    assert (refused.value.status, refused.value.code) == (409, "deleting")
    del sessions.items["s-del"]
    assert service.accept(session, PLANNER).created and len(queue.sent) == 2
