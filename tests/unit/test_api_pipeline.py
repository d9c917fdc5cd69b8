"""A session's pipeline state and the edges' reports, over fakes: received, summarizing, queued (position and
estimate), translating i/n, stored, failed; GET /edges; the conversation, one registry entry, the demo-model mark."""

from __future__ import annotations

import json

import pytest
from cloud_fakes import ApiWorld, add_summarized, http_event, make_session, system_definition
from test_api_edge_sync import upload

from functions.api.routers import resolver
from functions.api.wiring import Api
from schemas.edge_api import Heartbeat
from schemas.lineage import RegistryEntry

DEMO_MODEL = {"model_id": "SmolLM2-135M-Instruct-Q4_1-mlx", "weights_digest": "sha256:demo"}


@pytest.fixture
def world() -> ApiWorld:
    world = ApiWorld()
    world.edge.publish_system("planner", system_definition())
    world.edge.publish_system("nudge", system_definition("nudge", "Reminders"))
    for session_id in ("s-1", "s-2", "s-3"):
        add_summarized(world.sessions, session_id)
    return world


def beat(**fields) -> Heartbeat:
    return Heartbeat.model_validate({"model_version": "translator-model:m1", "model_id": "tiny", **fields})


def job(*summaries: tuple[str, int, int], reason: str = "new") -> dict:
    return {
        "summaries": [{"summary_id": s, "done": d, "total": t} for s, d, t in summaries],
        "reason": reason,
        "started_at": "2026-11-30T09:00:00Z",
    }


def state(world: ApiWorld, session_id: str) -> dict:
    return world.reads.summary(session_id)["pipeline"]


def test_received_summarizing_and_failed_sessions_say_so(world):
    session = make_session("r-1")
    world.sessions.create(session, session.content_hash(), "sessions/r-1/x.json")
    assert state(world, "r-1") == {"state": "received"}
    assert world.sessions.begin_attempt("r-1", session.content_hash(), 2)
    assert state(world, "r-1") == {"state": "summarizing", "attempt": 2}
    assert world.sessions.mark_failed("r-1", "model overloaded", 2, final=True)
    assert state(world, "r-1") == {"state": "failed", "error": "model overloaded"}


def test_without_an_edge_a_summary_is_queued_and_the_edge_is_offline(world):
    assert state(world, "s-1") == {
        "state": "queued",
        "missing": 2,
        "edge": "offline",
        "position": None,
        "estimate_seconds": None,
    }


def test_queued_has_the_edges_queue_depth_and_an_estimate_from_its_pace(world):
    world.edge_status.report("mac", beat(state="idle", queue={"edge": 3, "backfill": 40}, seconds_per_summary=20.0))
    assert state(world, "s-2") == {
        "state": "queued",
        "missing": 2,
        "edge": "mac",
        "position": 3,
        "estimate_seconds": 60,
    }
    # A job in flight, half done: what is left of it comes first.
    world.edge_status.report(
        "mac", beat(state="translating", job=job(("s-1", 1, 2)), queue={"edge": 1}, seconds_per_summary=20.0)
    )
    assert state(world, "s-2")["estimate_seconds"] == 30


def test_a_job_marks_its_sessions_translating_i_of_n_until_the_edge_moves_on(world):
    world.edge_status.report("mac", beat(state="translating", job=job(("s-1", 0, 2), ("s-2", 0, 2))))
    assert state(world, "s-1") == {
        "state": "translating",
        "edge": "mac",
        "done": 0,
        "total": 2,
        "started_at": "2026-11-30T09:00:00Z",
    }
    world.edge.put_record("s-1", "planner", upload({"title": "Dentist"}))
    world.edge_status.report("mac", beat(state="translating", job=job(("s-1", 1, 2), ("s-2", 0, 2))))
    assert (state(world, "s-1")["done"], state(world, "s-2")["done"]) == (1, 0)
    world.edge.put_record("s-1", "nudge", upload({"title": "Dentist"}))
    world.edge_status.report("mac", beat(state="idle"))
    assert state(world, "s-1") == {"state": "stored", "systems": 2}
    assert state(world, "s-2")["state"] == "queued"
    assert "edge_job" not in world.sessions.items["s-1"] and "edge_job" not in world.sessions.items["s-2"]
    listed = {
        item["session_id"]: item["pipeline"]["state"] for item in world.reads.list_summaries({}, 10, None)["items"]
    }
    assert listed == {"s-1": "stored", "s-2": "queued", "s-3": "queued"}


def test_a_mark_left_by_an_edge_that_went_away_is_not_believed(world):
    world.edge_status.report("mac", beat(state="translating", job=job(("s-1", 0, 2))))
    pointer = world.registry.edge_state("mac")
    world.registry.set_edge_state({**pointer, "seen_at": pointer["seen_at"] - world.online_seconds - 1})
    assert state(world, "s-1")["state"] == "queued" and state(world, "s-1")["edge"] == "offline"


def test_edges_say_online_or_when_last_seen_and_mark_the_offline_demo_model(world):
    world.edge_status.report("mac", beat(model_id=DEMO_MODEL["model_id"], queue={"edge": 2}))
    world.edge_status.report("old-mac", beat())
    pointer = world.registry.edge_state("old-mac")
    world.registry.set_edge_state({**pointer, "seen_at": pointer["seen_at"] - 600})
    edges = {edge["name"]: edge for edge in world.reads.edges()["items"]}
    assert edges["mac"]["online"] is True and edges["mac"]["offline_demo_model"] is True
    assert edges["mac"]["queue"] == {"edge": 2}
    assert edges["old-mac"]["online"] is False and edges["old-mac"]["seen_seconds_ago"] >= 600
    assert edges["old-mac"]["offline_demo_model"] is False


def test_a_heartbeat_must_name_a_model():
    with pytest.raises(ValueError, match="names the model"):
        Heartbeat.model_validate({"state": "idle"})


def test_records_made_by_the_offline_demo_model_are_marked(world):
    demo = RegistryEntry.make("translator-model", DEMO_MODEL)
    world.registry.put(demo)
    world.registry.put(RegistryEntry.make("translator-model", {"model_id": "Qwen3-4B", "weights_digest": "x"}))
    made_by_demo = upload({"title": "Dentist"}).model_copy(deep=True)
    made_by_demo.lineage.translator_model_version = demo.version_id
    world.edge.put_record("s-1", "planner", made_by_demo)
    world.edge.put_record("s-1", "nudge", upload({"title": "Dentist"}))
    records = {record["system"]: record for record in world.reads.summary("s-1")["records"]}
    assert records["planner"]["offline_demo_model"] is True and records["nudge"]["offline_demo_model"] is False


def test_translate_ms_and_summarized_at_are_shown(world):
    world.edge.put_record("s-1", "planner", upload({"title": "Dentist"}).model_copy(update={"translate_ms": 1234}))
    view = world.reads.summary("s-1")
    assert view["records"][0]["translate_ms"] == 1234 and view["summarized_at"]


@pytest.fixture
def api(world):
    app = resolver(
        Api(
            world.reads,
            world.search,
            world.refresh,
            world.edge,
            world.embedding_sync,
            world.edits,
            world.edge_status,
            world.distill,
        )
    )

    def call(method: str, path: str, scopes: str = "read", body=None) -> tuple[int, dict]:
        response = app.resolve(http_event(method, path, scopes=scopes, body=body), None)
        return response["statusCode"], json.loads(response["body"])

    return call


def test_the_conversation_route_serves_the_session_as_received(api):
    status, body = api("GET", "/summaries/s-1/conversation")
    assert status == 200 and body["session_id"] == "s-1"
    assert [turn["content"] for turn in body["turns"]] == ["Book the dentist for Friday", "Noted."]
    assert api("GET", "/summaries/nope/conversation")[0] == 404


def test_one_registry_entry_by_its_version_id(api, world):
    version = world.registry.active_system("planner")["schema_version"]
    status, body = api("GET", f"/registry/{version}")
    assert status == 200 and body["version_id"] == version and body["kind"] == "schema"
    assert api("GET", "/registry/schema:0000000000")[0] == 404
    assert api("GET", "/registry/active-system:planner")[0] == 404  # pointers are not entries


def test_the_heartbeat_route_keeps_the_report_under_the_tokens_name(api, world):
    status, body = api("PUT", "/edge/heartbeat", scopes="edge", body=beat(state="idle").model_dump(mode="json"))
    assert status == 200 and body["changed"] is False
    status, body = api("GET", "/edges")
    assert status == 200 and [edge["name"] for edge in body["items"]] == ["unit"]
    assert api("PUT", "/edge/heartbeat", scopes="edge", body={"state": "idle"})[0] == 422
    assert world.registry.edge_state("unit")["state"] == "idle"


def test_a_refused_heartbeat_leaves_no_report(api, world):
    unknown = {"embedding_version": "embedding-model:unknown", "state": "idle"}
    assert api("PUT", "/edge/heartbeat", scopes="edge", body=unknown)[0] == 422
    assert world.registry.edge_states() == []
