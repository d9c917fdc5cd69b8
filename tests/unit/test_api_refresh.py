"""RefreshService over fakes: what a selection queues, coalescing, refusals that leave nothing behind."""

from __future__ import annotations

import pytest
from cloud_fakes import ApiWorld, add_summarized, system_definition
from test_api_edge_sync import upload

from functions.errors import ClientError
from schemas.contracts import RefreshSelector


@pytest.fixture
def world() -> ApiWorld:
    world = ApiWorld()
    add_summarized(world.sessions, "s-1")
    add_summarized(world.sessions, "s-2")
    return world


def publish(world: ApiWorld, *names: str) -> None:
    for name in names:
        world.edge.publish_system(name, system_definition(name))
    world.edge_queue.sent.clear()


def sent(world: ApiWorld) -> list[tuple[str, str | None, str]]:
    return [(m.summary_id, m.system, m.task) for m in world.edge_queue.sent]


@pytest.mark.parametrize(
    ("selector", "status", "code"),
    [
        (RefreshSelector(summary_id="s-none"), 404, "not_found"),
        (RefreshSelector(system="nudge"), 404, "unknown_system"),
        (RefreshSelector(), 409, "no_systems"),
    ],
)
def test_refused_selections_leave_nothing_behind(world, selector, status, code):
    with pytest.raises(ClientError) as error:
        world.refresh.request(selector)
    assert (error.value.status, error.value.code) == (status, code)
    assert world.refresh_store.items == {} and world.edge_queue.sent == []


def test_a_summary_is_translated_again_for_every_published_system(world):
    publish(world, "planner", "synapse")
    created, item = world.refresh.request(RefreshSelector(summary_id="s-1"))
    assert created and item["queued"] == 2 and item["status"] == "queued"
    assert sent(world) == [("s-1", "planner", "translate"), ("s-1", "synapse", "translate")]
    assert {m.request_id for m in world.edge_queue.sent} == {item["request_id"]}


def test_the_same_selection_within_the_window_is_one_request(world):
    publish(world, "planner")  # its backfill selected system=planner, but a user's request is not a backfill
    mine, by_user = world.refresh.request(RefreshSelector(system="planner"))
    again, same = world.refresh.request(RefreshSelector(system="planner"))
    assert mine and not again and same["request_id"] == by_user["request_id"]
    assert [m.reason for m in world.edge_queue.sent] == ["refresh", "refresh"]
    world.edge_queue.sent.clear()
    created, first = world.refresh.request(RefreshSelector(summary_id="s-1"))
    repeated, second = world.refresh.request(RefreshSelector(summary_id="s-1"))
    assert created and not repeated and second["request_id"] == first["request_id"]
    assert sent(world) == [("s-1", "planner", "translate")]


def test_the_same_selection_once_its_request_is_done_is_a_new_request(world):
    publish(world, "planner")
    _, first = world.refresh.request(RefreshSelector(summary_id="s-1"))
    world.edge.put_record("s-1", "planner", upload({"title": "A"}, request_id=first["request_id"]))
    assert world.refresh.get(first["request_id"])["status"] == "done"
    created, second = world.refresh.request(RefreshSelector(summary_id="s-1"))  # e.g. after the user edited it
    assert created and second["request_id"] != first["request_id"] and second["status"] == "queued"
    assert [m.request_id for m in world.edge_queue.sent] == [first["request_id"], second["request_id"]]
    repeated, third = world.refresh.request(RefreshSelector(summary_id="s-1"))
    assert not repeated and third["request_id"] == second["request_id"]  # still queued: coalesced


def test_embedding_refresh_names_no_system(world):
    _, item = world.refresh.request(RefreshSelector(task="embed"))
    assert sent(world) == [("s-1", None, "embed"), ("s-2", None, "embed")] and item["queued"] == 2


def test_a_version_selects_the_records_it_made(world):
    publish(world, "planner")
    world.edge.put_record("s-2", "planner", upload({"title": "x"}))
    _, item = world.refresh.request(RefreshSelector(translator_prompt_version="translator-prompt:p1"))
    assert sent(world) == [("s-2", "planner", "translate")] and item["queued"] == 1
    _, none = world.refresh.request(RefreshSelector(translator_model_version="translator-model:other"))
    assert none["queued"] == 0 and none["status"] == "done"


def test_progress_and_unknown_requests(world):
    publish(world, "planner", "synapse")
    _, item = world.refresh.request(RefreshSelector(summary_id="s-1"))
    world.refresh.complete("s-1", "planner", item["request_id"])
    world.refresh.complete("s-1", "planner", item["request_id"])  # the same pair again counts nothing
    world.refresh.complete("s-1", "planner", None)
    assert {k: world.refresh.get(item["request_id"])[k] for k in ("status", "completed")} == {
        "status": "in_progress",
        "completed": 1,
    }
    world.refresh.complete("s-1", "synapse", item["request_id"])
    assert world.refresh.get(item["request_id"])["status"] == "done"
    with pytest.raises(ClientError) as error:
        world.refresh.get("rf-0000")
    assert error.value.status == 404
