"""The unit tier's fakes answer as the real stores do on the local stack: the same scenario, the same answers
(conditional writes, refusals, pages and their tokens)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError as BotoClientError
from cloud_fakes import (
    FakeChangeLog,
    FakeDeletionStore,
    FakeRecordStore,
    FakeRefreshStore,
    FakeRegistryStore,
    FakeSessionStore,
    make_session,
)
from stack_helpers import running_stack

from functions.clock import utc_now
from functions.errors import ClientError
from functions.stores.changes import ChangeLog
from functions.stores.deletions import DeletionStore
from functions.stores.records import RecordStore
from functions.stores.refresh import RefreshStore
from functions.stores.registry import RegistryStore
from functions.stores.sessions import SessionFilters, SessionStore, SummaryMade
from schemas.contracts import Lineage, SystemState, TokenUsage, lineage_of
from schemas.lineage import RegistryEntry

LINEAGE = Lineage(translator_model_version="t:m", translator_prompt_version="t:p", schema_version="schema:s")


@pytest.fixture(scope="module")
def stack():
    with running_stack(event_sources=False) as running:
        yield running


def real(stack) -> dict[str, Any]:
    sessions = SessionStore(stack.resolved("SessionsTable"), stack.resolved("DataBucket"))
    changes = ChangeLog(stack.resolved("ChangesTable"))
    return {
        "sessions": sessions,
        "changes": changes,
        "records": RecordStore(
            stack.resolved("RecordsTable"),
            stack.resolved("HistoryTable"),
            stack.resolved("DataBucket"),
            sessions,
            changes,
        ),
        "registry": RegistryStore(stack.resolved("RegistryTable")),
        "refresh": RefreshStore(stack.resolved("RefreshTable")),
        "jobs": DeletionStore(stack.resolved("DeletionsTable")),
    }


def fake() -> dict[str, Any]:
    sessions, changes = FakeSessionStore(), FakeChangeLog()
    return {
        "sessions": sessions,
        "changes": changes,
        "records": FakeRecordStore(sessions, changes),
        "registry": FakeRegistryStore(),
        "refresh": FakeRefreshStore(),
        "jobs": FakeDeletionStore(),
    }


def outcome(call: Callable[[], Any]) -> Any:
    """What a call answered, or which error it raised."""
    try:
        return call()
    except BotoClientError as error:
        return ("boto", error.response["Error"]["Code"])
    except ClientError as error:
        return ("client", error.status, error.code)


def summarize(sessions, session_id: str, content_hash: str) -> bool:
    made = SummaryMade(
        summary_key=f"summaries/{session_id}.md",
        model_version="summarizer-model:m",
        prompt_version="summarizer-prompt:p",
        usage=TokenUsage(input_tokens=3, output_tokens=2),
        cost_usd=0.00012,
        latency_ms=9,
    )
    return sessions.mark_summarized(session_id, content_hash, made)


def session_life(stores: dict[str, Any], prefix: str) -> list[Any]:
    sessions, seen = stores["sessions"], []
    session, other = make_session(f"{prefix}-life"), make_session(f"{prefix}-life", text="Other words")
    sid, content_hash = session.session_id, session.content_hash()
    seen.append(sessions.create(session, content_hash, f"sessions/{sid}/a.json") is not None)
    seen.append(sessions.create(other, other.content_hash(), f"sessions/{sid}/b.json"))
    seen.append(sessions.reopen_failed(sid))
    seen.append([sessions.begin_attempt(sid, content_hash, 1), sessions.begin_attempt(sid, content_hash, 1)])
    seen.append(sessions.begin_attempt(sid, "0" * 64, 2))
    sessions.mark_failed(sid, "overloaded", attempts=1, final=False)
    seen.append({k: sessions.get(sid).get(k) for k in ("status", "attempts", "error")})
    sessions.mark_failed(sid, "cut off", attempts=2, final=False, stop_reason="max_tokens")
    seen.append({k: sessions.get(sid).get(k) for k in ("status", "attempts", "error", "stop_reason")})
    sessions.mark_failed(sid, "overloaded", attempts=3, final=True)
    seen.append(sessions.get(sid).get("stop_reason"))
    seen.append(sessions.reopen_failed(sid))
    seen.append({k: sessions.get(sid).get(k) for k in ("status", "attempts", "error")})
    seen.append(sessions.fail_dead_lettered(sid, "0" * 64, "dead-lettered", attempts=3))
    seen.append(sessions.fail_dead_lettered(sid, content_hash, "dead-lettered", attempts=3))
    seen.append({k: sessions.get(sid).get(k) for k in ("status", "attempts", "error")})
    seen.append(sessions.reopen_failed(sid))
    seen.append(outcome(lambda: sessions.set_embedding_version(sid, "embedding-model:e")))
    seen.append(summarize(sessions, sid, "0" * 64))
    seen.append(summarize(sessions, sid, content_hash))
    seen.append(summarize(sessions, sid, content_hash))
    seen.append(outcome(lambda: sessions.mark_failed(sid, "late", attempts=4, final=True)))
    seen.append(outcome(lambda: sessions.set_embedding_version(sid, "embedding-model:e")))
    item = sessions.get(sid)
    seen.append({k: item.get(k) for k in ("status", "attempts", "error", "cost_usd", "usage", "embedding_version")})
    seen.append(outcome(lambda: sessions.summarized(f"{prefix}-none")))
    sessions.remove_unqueued(sid, content_hash)  # not RECEIVED any more: kept
    seen.append(sessions.get(sid) is not None)
    return seen


def batch_life(stores: dict[str, Any], prefix: str) -> list[Any]:
    sessions, seen = stores["sessions"], []
    session = make_session(f"{prefix}-batch")
    sid, content_hash = session.session_id, session.content_hash()
    sessions.create(session, content_hash, f"sessions/{sid}/a.json")
    seen.append(sessions.claim_for_batch(sid, content_hash, "first", 100, 200))
    seen.append(sessions.claim_for_batch(sid, content_hash, "second", 150, 250))
    seen.append(sessions.claim_for_batch(sid, content_hash, "second", 201, 300))
    seen.append(sessions.record_batch(sid, "first", f"{prefix}-b1"))
    seen.append(sessions.record_batch(sid, "second", f"{prefix}-b1"))
    seen.append((f"{prefix}-b1" in sessions.pending_batch_ids(), sessions.sessions_in_batch(f"{prefix}-b1")))
    seen.append(sessions.fail_batch_session(sid, f"{prefix}-b0", "wrong batch"))
    seen.append(sessions.fail_batch_session(sid, f"{prefix}-b1", "expired"))
    item = sessions.get(sid)
    seen.append({k: item.get(k) for k in ("status", "attempts", "error", "batch_id", "failed_batch_id", "batch_state")})
    return seen


def listing(stores: dict[str, Any], prefix: str) -> list[Any]:
    sessions, seen = stores["sessions"], []
    for n in range(3):
        started_at = f"2025-01-0{n + 1}T23:30:00-08:00"  # distinct, so the order is defined
        session = make_session(f"{prefix}-list-{n}", source="nudge", started_at=started_at, user_id=f"{prefix}-u")
        sessions.create(session, session.content_hash(), f"sessions/{prefix}-{n}/a.json")
    for filters in (
        SessionFilters(source="nudge", day_from="2025-01-01"),
        SessionFilters(user_id=f"{prefix}-u", status="RECEIVED"),
        SessionFilters(source="nudge", day_from="2025-01-02", day_to="2025-01-02"),
        SessionFilters(source="nudge", day_from="2025-01-01", day_to="9999-12-31"),  # the last day there is
    ):
        pages, token = [], None
        while True:
            items, token = sessions.page(filters, 2, token)
            pages.append([item["session_id"] for item in items])
            if not token:
                break
        seen.append(pages)
    seen.append(outcome(lambda: sessions.page(SessionFilters(source="nudge"), 2, "bm90IG91cnM")))
    seen.append(outcome(lambda: sessions.page(SessionFilters(source="nudge"), 2, "%%%")))
    return seen


def records_and_registry(stores: dict[str, Any], prefix: str) -> list[Any]:
    sessions, records, registry, refresh, seen = (
        stores["sessions"],
        stores["records"],
        stores["registry"],
        stores["refresh"],
        [],
    )
    session = make_session(f"{prefix}-rec")
    sessions.create(session, session.content_hash(), f"sessions/{prefix}-rec/a.json")
    summarize(sessions, session.session_id, session.content_hash())

    def store(expected: int, title: str) -> Any:
        return outcome(
            lambda: records.store_version(
                summary_id=session.session_id,
                system="planner",
                expected_version=expected,
                document={"title": title},
                patch=[],
                lineage=LINEAGE,
                request_id=None,
            )["version"]
        )

    seen += [store(0, "a"), store(0, "b"), store(1, "c"), store(1, "d")]
    state = sessions.get(session.session_id)["systems"]["planner"]
    seen.append({k: state[k] for k in ("version", "schema_version")})
    again = SystemState(**{**state, "translator_prompt_version": "t:p2"})
    seen.append(sessions.translated_with(session.session_id, "planner", again))
    seen.append(sessions.translated_with(session.session_id, "planner", again.model_copy(update={"version": 1})))
    seen.append(sessions.translated_with(session.session_id, "nowhere", again))
    seen.append(sessions.translated_with(f"{prefix}-none", "planner", again))
    state = sessions.get(session.session_id)["systems"]["planner"]
    seen.append({k: state[k] for k in ("version", "translator_prompt_version", "document_hash")})
    records.store_version(
        summary_id=session.session_id,
        system="planner",
        expected_version=2,
        document={"title": "e"},
        patch=[],
        lineage=LINEAGE,
        request_id=None,
        author="user",
        translated_with=lineage_of(again.model_dump()),
    )
    state = sessions.get(session.session_id)["systems"]["planner"]
    seen.append({k: state[k] for k in ("version", "translator_prompt_version")})
    seen.append(records.get(session.session_id, "planner")["translator_prompt_version"])
    history, token = records.history_page(session.session_id, "planner", 1, None)
    seen.append(([h["version"] for h in history], token is not None))
    seen.append(sorted(records.made_by("schema_version", "schema:s")))
    entry = RegistryEntry.make("schema", {"type": "object", "x": prefix})
    seen += [registry.put(entry), registry.put(entry), registry.entry(entry.version_id, "system")]
    seen.append(refresh.coalesce(f"{prefix}-sel", "rf-1", 1000, 300))
    seen.append(refresh.coalesce(f"{prefix}-sel", "rf-2", 1100, 300))
    seen.append(refresh.coalesce(f"{prefix}-sel", "rf-3", 1401, 300))
    seen.append(refresh.reclaim(f"{prefix}-sel", "rf-4", "rf-1", 1402, 300))  # not the holder: refused
    seen.append(refresh.reclaim(f"{prefix}-sel", "rf-4", "rf-3", 1402, 300))
    seen.append(refresh.coalesce(f"{prefix}-sel", "rf-5", 1403, 300))
    refresh.put({"request_id": f"rf-{prefix}", "queued": 2, "completed": 0, "status": "queued"})
    seen.append(refresh.complete_one(f"rf-{prefix}", "s-1/planner", 9999))
    seen.append(refresh.complete_one(f"rf-{prefix}", "s-1/planner", 9999))  # a re-sent upload counts once
    seen.append(refresh.complete_one("rf-nowhere", "s-1/planner", 9999))
    seen.append({k: refresh.get(f"rf-{prefix}")[k] for k in ("completed", "status")})
    seen.append(refresh.complete_one(f"rf-{prefix}", "s-2/planner", 9999))
    seen.append(refresh.get(f"rf-{prefix}")["status"])
    seen.append(refresh.get(f"key:{prefix}-sel"))
    seen.append(refresh.get(f"done:rf-{prefix}:s-1/planner"))
    seen.append(refresh.counted(f"rf-{prefix}", ["s-1/planner", "s-1/nudge", "s-2/planner"]))
    seen.append(refresh.counted("rf-other", ["s-1/planner"]))
    piece = f"{prefix}-s/planner"
    seen += [refresh.claim_queued(piece, "rf-a", 1000, 2000), refresh.claim_queued(piece, "rf-b", 1500, 2500)]
    seen += [refresh.claim_queued(piece, "rf-c", 2001, 3000), refresh.release_queued(piece)]
    seen += [refresh.release_queued(piece), refresh.claim_queued(piece, "rf-d", 2002, 3000)]
    retired, kept = f"r{prefix.replace('-', '')}"[:60], f"k{prefix.replace('-', '')}"[:60]
    for name, queued, status in ((f"rf-{prefix}-x", 3, "queued"), (f"rf-{prefix}-y", 1, "done")):
        by_system = {retired: 2, kept: 1} if queued == 3 else {retired: 1}
        refresh.put(
            {"request_id": name, "queued": queued, "completed": 0, "status": status, "queued_by_system": by_system}
            | {"completed_by_system": {}, "expires_at": 9999}
        )
    refresh.put(  # a backfill with one piece of the retired system queued
        {"request_id": f"rf-{prefix}-b", "queued": 1, "completed": 0, "status": "queued"}
        | {"queued_by_system": {retired: 1}, "completed_by_system": {}, "expires_at": 9999}
    )
    seen.append(refresh.complete_one(f"rf-{prefix}-x", f"s-1/{retired}", 9999))
    seen.append(refresh.claim_queued(f"s-9/{retired}", f"rf-{prefix}-b", 1000, 9999))
    seen.append(refresh.claim_queued(f"s-9/{retired}", "rf-new", 1001, 9999))  # the backfill still has it
    seen.append(refresh.drop_system(retired))
    seen.append(refresh.get(f"rf-{prefix}-x"))  # 1 of retired counted, 1 dropped: waits for kept only
    seen.append(refresh.get(f"rf-{prefix}-b"))  # done: its one piece dropped
    seen.append(refresh.claim_queued(f"s-9/{retired}", "rf-new", 1001, 9999))  # its request is done: taken over
    seen.append(refresh.drop_system(retired))  # nothing left to drop
    seen.append(refresh.complete_one(f"rf-{prefix}-x", f"s-1/{kept}", 9999))
    seen.append(refresh.get(f"rf-{prefix}-x"))
    # a deleted summary: the pieces requests wait for are dropped, once; one already counted is not
    gone, other = f"{prefix}-gone", f"{prefix}-kept"
    refresh.put(
        {"request_id": f"rf-{prefix}-d", "queued": 3, "completed": 0, "status": "queued"}
        | {"queued_by_system": {"planner": 2, "embed": 1}, "completed_by_system": {}, "expires_at": 9999}
    )
    refresh.mark_pending(gone, {f"rf-{prefix}-d|planner", f"rf-{prefix}-d|embed"}, 9999, 1000)
    refresh.mark_pending(other, {f"rf-{prefix}-d|planner"}, 9999, 1000)
    seen.append(refresh.claim_queued(f"{gone}/planner", f"rf-{prefix}-d", 1000, 9999))
    seen.append(refresh.complete_one(f"rf-{prefix}-d", f"{gone}/embed", 9999))
    refresh.clear_pending(gone, {f"rf-{prefix}-d|embed"})
    seen.append(refresh.drop_summary(gone, 2000, 9999))
    seen.append(refresh.get(f"rf-{prefix}-d"))  # 1 counted, 1 dropped: waits for the kept summary only
    seen.append(refresh.drop_summary(gone, 2000, 9999))  # nothing left to drop
    seen.append(refresh.claim_queued(f"{gone}/planner", "rf-new", 1001, 9999))  # its mark was cleared
    seen.append(refresh.complete_one(f"rf-{prefix}-d", f"{gone}/planner", 9999))  # dropped: not counted again
    seen.append(refresh.drop_summary(other, 2000, 9999))
    seen.append(refresh.get(f"rf-{prefix}-d"))
    # a retired system's pieces were dropped already: deleting a summary later does not drop them again
    refresh.put(
        {"request_id": f"rf-{prefix}-r", "queued": 3, "completed": 0, "status": "queued"}
        | {"queued_by_system": {retired: 2, kept: 1}, "completed_by_system": {}, "expires_at": 9999}
    )
    refresh.mark_pending(gone, {f"rf-{prefix}-r|{retired}", f"rf-{prefix}-r|{kept}"}, 9999, 2500)  # posted again
    seen.append(refresh.complete_one(f"rf-{prefix}-r", f"{other}/{retired}", 9999))
    seen.append(refresh.drop_system(retired))
    seen.append(refresh.drop_summary(gone, 2600, 9999))
    seen.append(refresh.get(f"rf-{prefix}-r"))  # done: 1 counted, 1 dropped at retirement, 1 at deletion
    # a request that read its targets before the purge finds the summary gone; one made after it does not
    seen.append(refresh.mark_pending(gone, {"rf-late|planner"}, 9999, 2600))
    seen.append(refresh.mark_pending(gone, {"rf-again|planner"}, 9999, 2601))
    seen.append(refresh.drop_summary(gone, 3000, 9999))
    return seen


def edits_and_feed(stores: dict[str, Any], prefix: str) -> list[Any]:
    sessions, records, changes, seen = stores["sessions"], stores["records"], stores["changes"], []
    session = make_session(f"{prefix}-feed")
    sid, system = session.session_id, f"s{prefix.replace('-', '')}"[:60]
    sessions.create(session, session.content_hash(), f"sessions/{sid}/a.json")
    summarize(sessions, sid, session.content_hash())

    def store(expected: int, title: str, author: str = "edge", keep: dict | None = None) -> Any:
        return outcome(
            lambda: records.store_version(
                summary_id=sid,
                system=system,
                expected_version=expected,
                document={"title": title},
                patch=[],
                lineage=LINEAGE,
                request_id=None,
                author=author,
                author_name="me",
                keep=keep,
            )["version"]
        )

    seen += [store(0, "a"), store(1, "b", "user")]
    proposal = {**records.put_proposal_document(sid, system, {"title": "c"}), "lineage": LINEAGE.model_dump()}
    seen += [records.set_proposal(sid, system, 1, proposal), records.set_proposal(sid, system, 2, proposal)]
    seen.append(records.proposal_document(records.get(sid, system)["proposal"]))
    seen.append(store(2, "d", "user", keep={"proposal": records.get(sid, system)["proposal"]}))
    seen += [records.clear_proposal(sid, system, 2), records.clear_proposal(sid, system, 3)]
    seen.append(records.clear_proposal(sid, system, 3))
    seen.append([(h["version"], h["author"], int(h["seq"])) for h in records.history_items(sid, system)])
    entries, more = changes.page(system, 0, 2)
    seen.append(([(int(e["seq"]), e["change"], e["author"]) for e in entries], more))
    seen.append(changes.last_seq(system))
    sessions.mark_deleting(sid, utc_now())
    seen.append(store(3, "e"))
    seen += [records.remove(records.get(sid, system)), records.get(sid, system)]
    changes.forget(system, [1, 2])
    entries, more = changes.page(system, 0, 10)
    seen.append(([(int(e["seq"]), e["change"], int(e["version"])) for e in entries], more))
    return seen


def deletion_life(stores: dict[str, Any], prefix: str) -> list[Any]:
    sessions, jobs, seen = stores["sessions"], stores["jobs"], []
    user, now = f"{prefix}-user", utc_now()
    ids = []
    for n in range(3):
        session = make_session(f"{prefix}-del-{n}", started_at=f"2026-11-2{n}T09:00:00Z", user_id=user)
        sessions.create(session, session.content_hash(), f"sessions/{prefix}/{n}.json")
        ids.append(session.session_id)
    items, token = sessions.page_by_user(user, 2, None)
    seen.append(([i["session_id"] for i in items], token is not None))
    seen += [jobs.start(user, "job-1", "me", now), jobs.start(user, "job-2", "me", now)]
    seen.append(sessions.mark_deleting(ids[0], now, "job-1", jobs.counted(user, "job-1", "found")))
    seen.append(sessions.mark_deleting(ids[0], now, "job-1", jobs.counted(user, "job-1", "found")))
    seen.append(sessions.mark_deleting(ids[1], now))
    seen.append(sessions.statuses(set(ids)))
    seen.append(sorted(sessions.received_times(set(ids))))
    seen.append(
        [
            i["session_id"]
            for i in sessions.page(SessionFilters(source="planner"), 100, None)[0]
            if i["session_id"] in ids
        ]
    )
    seen.append(sessions.remove_deleted(ids[2], jobs.counted(user, "job-1", "deleted")))
    seen.append(sessions.remove_deleted(ids[0], jobs.counted(user, "job-1", "deleted")))
    seen.append(sessions.remove_deleted(ids[0], jobs.counted(user, "job-1", "deleted")))
    seen.append(jobs.finish_if_complete(user, "job-1", now))
    jobs.listed(user, "job-1", now)
    seen.append(jobs.finish_if_complete(user, "job-1", now))
    seen.append({k: jobs.get(user)[k] for k in ("status", "found", "deleted", "listed")})
    seen.append(jobs.start(user, "job-3", "me", now))
    return seen


@pytest.mark.parametrize(
    "scenario", [session_life, batch_life, listing, records_and_registry, edits_and_feed, deletion_life]
)
def test_fakes_answer_as_the_real_stores_do(stack, scenario):
    prefix = scenario.__name__.replace("_", "-")
    expected = scenario(real(stack), prefix)
    assert scenario(fake(), prefix) == expected
