"""The local stack keeps its data across restarts: sessions, summaries, records with their history, the change
feed's numbering, tokens and queued messages come back; a checkpoint taken while running survives a crash."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fault_hooks import injected
from stack_helpers import (
    api_client,
    make_token,
    queue_messages,
    running_stack,
    session_body,
    stored_sessions,
    wait_for,
    wait_for_stack,
)

from functions.search.index import SearchIndex
from functions.stores.index_file import INDEX_KEY
from local_stack.messages_server.backend import hang
from local_stack.messages_server.scripted import ScriptedBackend

PLANNER = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "systems" / "planner.json").read_text())
SCOPES = ["ingest", "read", "edge", "edit", "refresh"]


def _upload(client, lineage: dict, session_id: str, title: str, expected: int):
    body = {
        "document": {"tasks": [{"title": title, "due": None, "priority": "medium", "status": "todo"}], "events": []},
        "expected_version": expected,
        "lineage": {k: lineage[k] for k in ("translator_model_version", "translator_prompt_version", "schema_version")},
    }
    answer = client.put(f"/edge/summaries/{session_id}/systems/planner", json=body)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def _seen(client, session_id: str) -> dict:
    return {
        "session": client.get(f"/sessions/{session_id}").json(),
        "summary": client.get(f"/summaries/{session_id}").json(),
        "history": client.get(f"/summaries/{session_id}/systems/planner/history").json(),
        "changes": client.get("/systems/planner/records", params={"since": "0"}).json(),
    }


def _snapshot_holds(state: Path, session_id: str) -> bool:
    try:
        snapshot = json.loads((state / "snapshot.json").read_text())
    except (OSError, ValueError):
        return False
    return any(
        item.get("session_id", {}).get("S") == session_id and item.get("status", {}).get("S") == "SUMMARIZED"
        for item in snapshot["tables"]["SessionsTable"]
    )


def test_a_restarted_stack_serves_the_same_data_to_the_same_token(tmp_path):
    state, crashed = tmp_path / "state", tmp_path / "crashed"
    with running_stack(state_dir=state, checkpoint_s=1) as stack:
        token = make_token(stack, SCOPES, source="planner", name="owner")
        with api_client(stack, token) as client:
            published = client.put("/edge/systems/planner", json=PLANNER)
            assert published.status_code == 200, published.text
            lineage = {"translator_model_version": "m", "translator_prompt_version": "p", **published.json()}
            assert client.post("/sessions", json=session_body("s-kept")).status_code == 202
            wait_for_stack(stack, lambda: client.get("/sessions/s-kept").json().get("status") == "SUMMARIZED")
            _upload(client, lineage, "s-kept", "Book the dentist", expected=0)
            _upload(client, lineage, "s-kept", "Book the dentist for Friday", expected=1)
            wait_for(lambda: _snapshot_holds(state, "s-kept"), timeout=30, interval=0.2)
            shutil.copytree(state, crashed)  # what a crash right now would leave
            before = _seen(client, "s-kept")
            waiting = queue_messages(stack, "EdgeQueue")  # no edge worker here: its translate requests wait
    assert before["summary"]["text"] and len(before["history"]["items"]) == 2
    saved = stack.saved
    assert waiting >= 1 and saved is not None and saved.items > 0

    with running_stack(state_dir=state) as stack:
        assert stack.restored == saved
        with api_client(stack, token) as client:
            assert _seen(client, "s-kept") == before
            assert queue_messages(stack, "EdgeQueue") == waiting
            stored = _upload(client, lineage, "s-kept", "Book the dentist for Friday 8:00", expected=2)
            assert stored["version"] == 3
            changes = client.get("/systems/planner/records", params={"since": "0"}).json()["items"]
            assert [change["seq"] for change in changes] == [1, 2, 3]  # the numbering goes on, no repeats

    with running_stack(state_dir=crashed, serve_http=False, event_sources=False) as stack:
        assert [(s.session_id, s.status) for s in stored_sessions(stack)] == [("s-kept", "SUMMARIZED")]


def test_a_summary_cut_short_by_a_stop_is_summarized_after_the_restart(tmp_path):
    state = tmp_path / "state"
    slow = ScriptedBackend().script([hang(30)])
    with running_stack(slow, state_dir=state, extra_env={"LLM_TIMEOUT_SECONDS": "60"}) as stack:
        token = make_token(stack, SCOPES, source="planner", name="owner")
        with api_client(stack, token) as client:
            assert client.post("/sessions", json=session_body("s-cut")).status_code == 202
        wait_for(lambda: slow.calls >= 1, timeout=120)  # summarizing: its idempotency record is in progress
    with running_stack(state_dir=state) as stack, api_client(stack, token) as client:
        wait_for_stack(stack, lambda: client.get("/sessions/s-cut").json().get("status") == "SUMMARIZED")


def _indexed(stack, session_id: str) -> bool:
    try:
        stored = stack.client("s3").get_object(Bucket=stack.resolved("DataBucket"), Key=INDEX_KEY)["Body"].read()
    except stack.client("s3").exceptions.NoSuchKey:
        return False
    return SearchIndex.from_bytes(stored).position(session_id) is not None


def _snapshot_streams(state: Path) -> dict:
    try:
        return json.loads((state / "snapshot.json").read_text()).get("streams") or {}
    except (OSError, ValueError):
        return {}


def test_table_changes_a_stop_kept_from_their_function_are_delivered_after_the_restart(tmp_path):
    state, crashed, faults = tmp_path / "state", tmp_path / "crashed", tmp_path / "faults"
    faults.mkdir()
    env = {  # the search index's first two writes never return: a stop, then a crash, cut IndexFunction short
        "SSP_FAULT_HANG": json.dumps({"s3.PutObject": {"match": INDEX_KEY, "times": 2}}),
        "SSP_FAULT_DIR": str(faults),
    }
    with running_stack(state_dir=state, extra_env=env, worker_preload=("fault_hooks",)) as stack:
        token = make_token(stack, SCOPES, source="planner", name="owner")
        with api_client(stack, token) as client:
            assert client.post("/sessions", json=session_body("s-unindexed")).status_code == 202
        wait_for(lambda: injected(faults), timeout=120)
    saved = stack.saved
    assert saved is not None and saved.stream_records >= 1
    with running_stack(state_dir=state, extra_env=env, worker_preload=("fault_hooks",), checkpoint_s=1) as stack:
        assert stack.restored == saved
        wait_for(lambda: len(injected(faults)) == 2, timeout=120)  # the replayed batch hangs in its turn
        hung = (state / "snapshot.json").stat().st_mtime_ns

        def checkpointed():
            return (state / "snapshot.json").stat().st_mtime_ns > hung and _snapshot_streams(state)

        wait_for(checkpointed, timeout=30, interval=0.2)  # a checkpoint taken since holds the batch in hand
        shutil.copytree(state, crashed)  # what a crash right now would leave
    with running_stack(state_dir=crashed, extra_env=env, worker_preload=("fault_hooks",)) as stack:
        wait_for_stack(stack, lambda: _indexed(stack, "s-unindexed"))
