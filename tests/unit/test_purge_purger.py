"""The purge over fakes: a deleted session leaves nothing behind, work in flight is waited for, repeats are safe,
and a user's deletion job marks, counts and finishes."""

from __future__ import annotations

import pytest
from cloud_fakes import UserDataWorld, add_summarized, make_session, system_definition

from functions.search.index import IndexedDocument, SearchIndex
from functions.stores.changes import entry_document
from schemas.contracts import RefreshSelector
from schemas.edge_api import RecordUpload
from schemas.system_definition import SystemDefinition
from schemas.user_data import DeletionRequest

DEFINITION = SystemDefinition.from_dict(system_definition())
LINEAGE = {
    "translator_model_version": "translator-model:m1",
    "translator_prompt_version": "translator-prompt:p1",
    "schema_version": DEFINITION.schema_version,
}


@pytest.fixture
def world() -> UserDataWorld:
    world = UserDataWorld()
    world.api.edge.publish_system("planner", system_definition())
    return world


def with_record(world: UserDataWorld, session_id: str, *titles: str) -> None:
    add_summarized(world.api.sessions, session_id)
    for version, title in enumerate(titles):
        upload = RecordUpload(document={"title": title}, lineage=LINEAGE, expected_version=version)
        world.api.edge.put_record(session_id, "planner", upload)
    world.api.embeddings.put(session_id, "embedding-model:e", [1.0, 0.0], "2026-11-24T09:00:00Z")
    world.api.index_file.update(
        lambda index: index.with_documents([IndexedDocument(session_id, "planner", None, "Dentist on Friday.")])
    )


def traces(world: UserDataWorld, session_id: str) -> dict[str, object]:
    api = world.api
    return {
        "item": session_id in api.sessions.items,
        "objects": sorted(k for k in api.sessions.objects if f"/{session_id}" in k),
        "records": api.records.for_summary(session_id),
        "history": [h for h in api.records.history if h["record_key"].startswith(f"{session_id}#")],
        "feed": [
            (e["change"], entry_document(e) is not None)
            for e in api.changes.entries.get("planner", {}).values()
            if e["summary_id"] == session_id
        ],
        "embedding": session_id in api.embeddings.items,
        "indexed": api.index_file.index.position(session_id) is not None,
        "idempotency": any(key[0] == session_id for key in world.idempotency.records),
    }


NOTHING_LEFT = {
    "item": False,
    "objects": [],
    "records": [],
    "history": [],
    "feed": [("deleted", False)],
    "embedding": False,
    "indexed": False,
    "idempotency": False,
}


def test_a_deleted_session_leaves_nothing_but_its_deletion_in_the_feed(world):
    with_record(world, "s-1", "Dentist", "Dentist at 9")
    with_record(world, "s-2", "Keep me")
    world.idempotency.records[("s-1", world.api.sessions.items["s-1"]["content_hash"])] = "COMPLETED"
    world.archives.objects["exports/user-1/old.jsonl.gz"] = b"..."
    assert traces(world, "s-1")["feed"] == [("created", True), ("updated", True)]
    kept = traces(world, "s-2")

    world.deletions.delete_session("s-1", caller=_caller())
    assert world.api.reads.system_records("planner", 10, None)["items"][0]["summary_id"] == "s-2"
    assert world.drain() == ["purged"]

    assert traces(world, "s-1") == NOTHING_LEFT
    assert world.archives.objects == {}
    assert world.api.index_file.old_versions == 0
    assert traces(world, "s-2") == kept


def test_a_refresh_waiting_for_a_deleted_session_counts_its_pieces_dropped_and_ends(world):
    for session_id in ("s-1", "s-2"):
        add_summarized(world.api.sessions, session_id)
    created, request = world.api.refresh.request(RefreshSelector(system="planner"))
    assert created and request["queued"] == 2
    world.api.edge.put_record(
        "s-2",
        "planner",
        RecordUpload(document={"title": "Kept"}, lineage=LINEAGE, expected_version=0, request_id=request["request_id"]),
    )
    world.deletions.delete_session("s-1", caller=_caller())
    assert world.drain() == ["purged"]
    after = world.api.refresh.get(request["request_id"])
    assert {k: after[k] for k in ("status", "completed", "queued", "dropped")} == {
        "status": "done",
        "completed": 1,
        "queued": 1,
        "dropped": 1,
    }
    again, _ = world.api.refresh.request(RefreshSelector(system="planner"))
    assert again  # the same selection is new work, not the finished request coalesced


def test_a_piece_a_retired_system_dropped_is_not_dropped_again_when_its_session_is_deleted(world):
    world.api.edge.publish_system("mood", system_definition("mood"))
    for session_id in ("s-1", "s-2"):
        add_summarized(world.api.sessions, session_id)
    _, request = world.api.refresh.request(RefreshSelector())  # 2 sessions x 2 systems
    stored = RecordUpload(
        document={"title": "Kept"}, lineage=LINEAGE, expected_version=0, request_id=request["request_id"]
    )
    world.api.edge.put_record("s-2", "planner", stored)
    world.api.edge.retire_system("planner")
    world.deletions.delete_session("s-1", caller=_caller())
    assert world.drain() == ["purged"]
    after = world.api.refresh.get(request["request_id"])
    assert {k: after[k] for k in ("status", "queued", "completed", "dropped")} == {
        "status": "in_progress",  # s-2's mood piece is still to come
        "queued": 2,
        "completed": 1,
        "dropped": 2,
    }


def test_a_refresh_that_read_a_session_just_before_it_was_purged_does_not_wait_for_it(world, monkeypatch):
    add_summarized(world.api.sessions, "s-1")
    store = world.api.refresh_store
    mark = store.mark_pending

    def purged_first(*args):  # the purge runs between reading the targets and noting them
        world.deletions.delete_session("s-1", caller=_caller())
        world.drain()
        return mark(*args)

    monkeypatch.setattr(store, "mark_pending", purged_first)
    _, request = world.api.refresh.request(RefreshSelector(summary_id="s-1", system="planner"))
    after = world.api.refresh.get(request["request_id"])
    assert {k: after[k] for k in ("status", "queued", "dropped")} == {"status": "done", "queued": 0, "dropped": 1}


def test_a_summary_in_flight_is_waited_for_with_growing_delays(world):
    add_summarized(world.api.sessions, "s-1")
    content_hash = world.api.sessions.items["s-1"]["content_hash"]
    world.idempotency.records[("s-1", content_hash)] = "INPROGRESS"
    world.deletions.delete_session("s-1", caller=_caller())
    request, _ = world.queue.sent.pop(0)
    assert world.purger.handle(request) == "deferred"
    again, delay = world.queue.sent.pop(0)
    assert (again.attempt, delay) == (1, 1)
    assert world.purger.handle(again) == "deferred" and world.queue.sent[0][1] == 2
    world.idempotency.records[("s-1", content_hash)] = "COMPLETED"
    assert world.drain() == ["purged"] and "s-1" not in world.api.sessions.items


def test_a_deleted_sessions_distilled_answers_go_and_one_in_flight_is_waited_for(world):
    from schemas.edge_api import DistillRequest

    with_record(world, "s-1", "Dentist")
    with_record(world, "s-2", "Keep me")
    for session_id in ("s-1", "s-2"):
        world.api.distill.answer(DistillRequest(summary_id=session_id, system="planner"))
    [key_1] = [k for k in world.api.made_once if '"s-1"' in k]
    world.distills.running.add(key_1)
    world.deletions.delete_session("s-1", caller=_caller())
    assert world.purger.handle(world.queue.sent.pop(0)[0]) == "deferred"
    assert key_1 in world.api.made_once

    world.distills.running.clear()
    assert world.drain() == ["purged"]
    assert [k for k in world.api.made_once if '"s-1"' in k] == []
    assert [k for k in world.api.made_once if '"s-2"' in k] != []  # another session's answer stays


def test_a_session_being_deleted_is_never_distilled(world):
    from functions.errors import ClientError
    from schemas.edge_api import DistillRequest

    add_summarized(world.api.sessions, "s-1")
    world.deletions.delete_session("s-1", caller=_caller())
    with pytest.raises(ClientError) as error:
        world.api.distill.answer(DistillRequest(summary_id="s-1", system="planner"))
    assert error.value.status == 404 and world.api.made_once == {} and world.api.summarizer.prompts == []


def test_purging_again_after_a_fault_finishes_the_job(world, monkeypatch):
    with_record(world, "s-1", "Dentist")
    world.deletions.delete_session("s-1", caller=_caller())
    request, _ = world.queue.sent.pop(0)

    def broken(session_id: str) -> None:
        raise RuntimeError("injected: DeleteItem failed")

    monkeypatch.setattr(world.api.embeddings, "delete", broken)
    with pytest.raises(RuntimeError):
        world.purger.handle(request)
    assert world.api.reads.system_records("planner", 10, None)["items"] == []  # still hidden meanwhile
    monkeypatch.undo()
    assert world.purger.handle(request) == "purged"
    assert world.purger.handle(request) == "gone"
    assert traces(world, "s-1") == NOTHING_LEFT


def test_a_late_message_never_touches_a_live_session(world):
    add_summarized(world.api.sessions, "s-1")
    assert world.purger.handle(DeletionRequest(task="session", session_id="s-1")) == "live"
    assert world.api.sessions.items["s-1"]["status"] == "SUMMARIZED"


def test_a_users_deletion_marks_counts_and_finishes(world):
    for n in range(7):
        with_record(world, f"a-{n}", "Task")
    other = make_session("b-1")
    other_item = other.model_copy(update={"user_id": "user-2"})
    world.api.sessions.create(other_item, other_item.content_hash(), "sessions/b-1/x.json")

    started, job = world.deletions.delete_user("user-1", caller=_caller())
    assert started and job.status == "running"
    world.drain()

    status = world.deletions.status("user-1")
    assert (status.status, status.sessions_found, status.sessions_deleted) == ("done", 7, 7)
    assert status.finished_at is not None
    assert sorted(world.api.sessions.items) == ["b-1"]
    again, job = world.deletions.delete_user("user-1", caller=_caller())
    assert again and job.job_id != status.job_id  # a finished job is not resumed: a new one starts
    world.drain()
    status = world.deletions.status("user-1")  # found nothing more: the figures of what was deleted stay
    assert (status.status, status.sessions_found, status.sessions_deleted) == ("done", 7, 7)


def test_a_users_deletion_resumes_after_a_page_failed_halfway(world, monkeypatch):
    for n in range(5):
        add_summarized(world.api.sessions, f"a-{n}")
    world.deletions.delete_user("user-1", caller=_caller())
    listing, _ = world.queue.sent.pop(0)
    world.queue.fail_next = True  # every session is marked and counted, then queueing their purges fails
    with pytest.raises(RuntimeError):
        world.purger.handle(listing)
    assert {i["status"] for i in world.api.sessions.items.values()} == {"DELETING"}
    assert world.purger.handle(listing) in ("listed", "listing")  # the repeat queues the purges it missed
    world.drain()
    status = world.deletions.status("user-1")
    assert (status.status, status.sessions_found, status.sessions_deleted) == ("done", 5, 5)
    assert world.api.sessions.items == {}


def test_asking_again_resumes_a_running_job(world):
    add_summarized(world.api.sessions, "a-1")
    started, first = world.deletions.delete_user("user-1", caller=_caller())
    resumed, second = world.deletions.delete_user("user-1", caller=_caller())
    assert started and not resumed and first.job_id == second.job_id
    assert [r.task for r, _ in world.queue.sent] == ["user", "user"]
    world.drain()
    assert world.deletions.status("user-1").status == "done"


def test_the_index_loses_a_purged_session(world):
    with_record(world, "s-1", "Dentist")
    assert isinstance(world.api.index_file.index, SearchIndex) and world.api.index_file.index.position("s-1") == 0
    world.deletions.delete_session("s-1", caller=_caller())
    world.drain()
    assert len(world.api.index_file.index) == 0


def _caller():
    from functions.http.auth import Principal

    return Principal("tester", frozenset({"delete"}), None)
