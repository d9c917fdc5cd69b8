"""Send now, else keep in the outbox; replay in order; registry entries once per process."""

from __future__ import annotations

import pytest
from edge_fakes import FakeApi

from edge_worker.api_client import ApiRejected, ApiUnavailable
from edge_worker.delivery import Delivery, summary_of
from edge_worker.outbox import Outbox
from schemas.contracts import Lineage
from schemas.edge_api import EmbeddingUpload, RecordUpload
from schemas.lineage import content_version

CONTENT = {"model_id": "m", "weights_digest": "sha256:0"}
VERSION = content_version("embedding-model", CONTENT)
E1, E9 = "embedding-model:e1", "embedding-model:e9"


def vector(version: str = E1) -> EmbeddingUpload:
    return EmbeddingUpload(embedding_version=version, vector=[1.0, 0.0])


@pytest.fixture
def api() -> FakeApi:
    api = FakeApi()
    api.add_summary("s1")
    return api


@pytest.fixture
def delivery(api, tmp_path):
    delivery = Delivery(api, Outbox(tmp_path / "outbox.sqlite3"))
    yield delivery
    delivery.outbox.close()


def entry(delivery: Delivery):
    return delivery.registry_entry(VERSION, "embedding-model", CONTENT)


def waiting(outbox: Outbox) -> list[tuple[str, object]]:
    kept = []
    while (row := outbox.oldest()) is not None:
        kept.append((row.path, row.body))
        outbox.remove(row)
    return kept


def test_sent_now_through_the_api_methods_with_the_last_answer(api, delivery):
    sent = delivery.send(entry(delivery), delivery.embedding("s1", vector()))
    assert sent.delivered and sent.answer.model_dump() == {"summary_id": "s1", "embedding_version": E1}
    assert api.registry[VERSION] == {"kind": "embedding-model", "content": CONTENT}
    assert delivery.outbox.size() == 0


def test_from_the_first_unreachable_send_the_rest_waits_in_order_as_the_api_would_receive_it(api, delivery):
    api.refused = {"PUT"}
    uploads = [entry(delivery), delivery.system("planner", {"name": "planner"}), delivery.embedding("s1", vector())]
    assert not delivery.send(*uploads).delivered
    assert waiting(delivery.outbox) == [
        (f"/edge/registry/{VERSION}", {"kind": "embedding-model", "content": CONTENT}),
        ("/edge/systems/planner", {"name": "planner"}),
        ("/edge/summaries/s1/embedding", {"embedding_version": E1, "vector": [1.0, 0.0], "request_id": None}),
    ]


def test_path_parameters_are_url_quoted_where_the_api_is_called_and_where_the_outbox_keeps_them(api, delivery):
    api.rejections["/edge/systems/a%2Fb%20c"] = (404, "no such system")
    api.available = False
    assert not delivery.send(delivery.system("a/b c", {})).delivered
    assert waiting(delivery.outbox)[0][0] == "/edge/systems/a%2Fb%20c"
    api.available = True
    with pytest.raises(ApiRejected, match="no such system"):
        delivery.send(delivery.system("a/b c", {}))


def test_a_registry_entry_is_sent_once_per_process_but_again_until_it_got_through(api, delivery):
    api.available = False
    assert not delivery.send(entry(delivery)).delivered
    api.available = True
    assert delivery.send(entry(delivery)).delivered and delivery.send(entry(delivery)).delivered
    assert api.sent == [("PUT", f"/edge/registry/{VERSION}")]  # the second time it was known to be there
    api.available = False
    assert not delivery.send(entry(delivery), delivery.system("nudge", {})).delivered
    assert [path for path, _ in waiting(delivery.outbox)] == [f"/edge/registry/{VERSION}", "/edge/systems/nudge"]


def test_a_rejection_is_raised_and_nothing_is_kept(api, delivery):
    api.rejections["/edge/systems/planner"] = (422, "name_mismatch")
    with pytest.raises(ApiRejected, match="name_mismatch"):
        delivery.send(delivery.system("planner", {}), delivery.system("nudge", {}))
    assert delivery.outbox.size() == 0 and "nudge" not in api.systems


def test_keep_false_raises_instead_of_keeping(api, delivery):
    api.available = False
    with pytest.raises(ApiUnavailable):
        delivery.send(entry(delivery), keep=False)
    assert delivery.outbox.size() == 0


def test_replay_sends_oldest_first_and_stops_at_the_first_unreachable_send(api, delivery):
    for name in ("a", "b", "c"):
        delivery.outbox.add("PUT", f"/edge/systems/{name}", {"name": name})
    api.available = False
    assert delivery.replay() == (0, [], 0)
    assert delivery.outbox.size() == 3
    api.available = True
    api.rejections["/edge/systems/b"] = (422, "broken")
    sent, set_aside, _ = delivery.replay()
    assert (sent, delivery.outbox.size()) == (2, 0)
    assert set_aside == ["PUT /edge/systems/b: HTTP 422: broken"]
    assert [path for _, path in api.sent] == ["/edge/systems/a", "/edge/systems/b", "/edge/systems/c"]
    assert list(api.systems) == ["a", "c"]
    [kept] = delivery.outbox.dead_letters()
    assert (kept.path, kept.body, kept.reason) == ("/edge/systems/b", {"name": "b"}, "HTTP 422: broken")


class Clock:
    """Seconds that pass only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_the_api_fails_for_good_is_set_aside_after_bounded_tries_and_the_rest_flows(api, tmp_path):
    clock = Clock()
    delivery = Delivery(api, Outbox(tmp_path / "outbox.sqlite3"), max_attempts=4, retry_base_s=5, clock=clock)
    for name in ("a", "b", "c"):
        delivery.outbox.add("PUT", f"/edge/systems/{name}", {"name": name})
    api.rejections["/edge/systems/a"] = (500, "Internal Server Error")
    tries = 0
    while delivery.outbox.dead_letter_count() == 0 and tries < 50:
        delivery.replay()
        clock.now += 60
        tries += 1
    assert [path for _, path in api.sent].count("/edge/systems/a") == 4  # each try after a growing wait
    assert list(api.systems) == ["b", "c"] and delivery.outbox.size() == 0
    [kept] = delivery.outbox.dead_letters()
    assert kept.path == "/edge/systems/a" and "HTTP 500" in kept.reason and kept.attempts == 4
    delivery.outbox.close()


def test_between_tries_the_failing_head_waits_and_everything_behind_it_keeps_its_order(api, tmp_path):
    clock = Clock()
    delivery = Delivery(api, Outbox(tmp_path / "outbox.sqlite3"), max_attempts=4, retry_base_s=5, clock=clock)
    delivery.outbox.add("PUT", "/edge/systems/a", {"name": "a"})
    delivery.outbox.add("PUT", "/edge/systems/b", {"name": "b"})
    api.rejections["/edge/systems/a"] = (502, "Bad Gateway")
    assert delivery.replay() == (0, [], 0)
    assert delivery.replay() == (0, [], 0)  # too soon: the head is not tried again yet
    assert api.sent == [("PUT", "/edge/systems/a")]
    del api.rejections["/edge/systems/a"]
    clock.now += 5
    assert delivery.replay() == (2, [], 0) and list(api.systems) == ["a", "b"]
    delivery.outbox.close()


def test_an_unreachable_or_busy_api_never_sets_anything_aside(api, tmp_path):
    clock = Clock()
    delivery = Delivery(api, Outbox(tmp_path / "outbox.sqlite3"), max_attempts=2, retry_base_s=5, clock=clock)
    for name in ("a", "b"):
        delivery.outbox.add("PUT", f"/edge/systems/{name}", {"name": name})
    for outage in ("network", "throttled"):
        if outage == "network":
            api.available = False
        else:
            api.available, api.rejections["/edge/systems/a"] = True, (429, "Too Many Requests")
        for _ in range(20):
            assert delivery.replay() == (0, [], 0)
            clock.now += 3600
    api.rejections.clear()
    assert delivery.replay() == (2, [], 0) and list(api.systems) == ["a", "b"]
    assert delivery.outbox.dead_letter_count() == 0
    delivery.outbox.close()


def test_a_send_the_api_fails_waits_in_the_outbox_with_its_first_try_counted(api, tmp_path):
    clock = Clock()
    delivery = Delivery(api, Outbox(tmp_path / "outbox.sqlite3"), max_attempts=2, retry_base_s=5, clock=clock)
    api.rejections["/edge/systems/a"] = (500, "Internal Server Error")
    assert not delivery.send(delivery.system("a", {"name": "a"}), delivery.system("b", {"name": "b"})).delivered
    clock.now += 5
    assert delivery.replay() == (1, ["PUT /edge/systems/a: HTTP 500: Internal Server Error (2 tries)"], 0)
    assert list(api.systems) == ["b"] and delivery.outbox.dead_letter_count() == 1
    delivery.outbox.close()


def test_dead_letters_survive_a_restart_and_can_be_queued_again_in_order(tmp_path):
    first = Outbox(tmp_path / "outbox.sqlite3")
    first.add("PUT", "/edge/systems/a", {"n": 1})
    first.add("PUT", "/edge/systems/b", {"n": 2})
    first.set_aside(first.oldest(), "HTTP 500: boom (8 tries)")
    first.close()
    again = Outbox(tmp_path / "outbox.sqlite3")
    assert [(d.path, d.reason) for d in again.dead_letters()] == [("/edge/systems/a", "HTTP 500: boom (8 tries)")]
    assert again.requeue_dead_letters() == 1
    assert again.dead_letter_count() == 0
    assert [again.oldest().path] == ["/edge/systems/b"]
    again.remove(again.oldest())
    assert (again.oldest().path, again.oldest().attempts) == ("/edge/systems/a", 0)
    again.close()


def test_what_waits_is_replayed_as_the_api_methods_would_have_sent_it(api, delivery):
    api.available = False
    lineage = Lineage(translator_model_version="m", translator_prompt_version="p", schema_version="s")
    record = RecordUpload(document={"x": 1}, lineage=lineage, expected_version=0)
    kept = [delivery.system("planner", {"name": "planner"}), delivery.embedding("s1", vector(E9))]
    delivery.send(*kept, delivery.record("s1", "planner", record))
    api.available = True
    api.rejections["/edge/summaries/s1/systems/planner"] = (422, "unknown_version")  # routed to the record
    assert delivery.replay() == (2, ["PUT /edge/summaries/s1/systems/planner: HTTP 422: unknown_version"], 0)
    assert api.systems == {"planner": {"name": "planner"}} and api.summaries["s1"]["embedding_version"] == E9


def test_the_outbox_survives_a_restart_in_order(tmp_path):
    first = Outbox(tmp_path / "outbox.sqlite3")
    first.add("PUT", "/edge/systems/a", {"n": 1})
    first.add("PUT", "/edge/systems/b", {"n": 2})
    first.close()
    again = Outbox(tmp_path / "outbox.sqlite3")
    oldest = again.oldest()
    assert (oldest.path, oldest.body, again.size()) == ("/edge/systems/a", {"n": 1}, 2)
    again.close()


def test_what_waits_for_a_summary_deleted_meanwhile_is_dropped_not_kept_as_a_dead_letter(api, delivery):
    api.available = False
    lineage = Lineage(translator_model_version="m", translator_prompt_version="p", schema_version="s")
    record = RecordUpload(document={"title": "Call Bob, pin 4321"}, lineage=lineage, expected_version=0)
    delivery.send(delivery.record("s1", "planner", record), delivery.system("planner", {"name": "planner"}))
    api.available = True
    api.rejections["/edge/summaries/s1/systems/planner"] = (404, "no summarized session s1", "not_found")
    api.rejections["/edge/systems/planner"] = (404, "gone too", "unknown_system")  # not a summary: kept
    assert delivery.replay() == (0, ["PUT /edge/systems/planner: HTTP 404: gone too"], 1)
    assert [letter.path for letter in delivery.outbox.dead_letters()] == ["/edge/systems/planner"]


def test_dead_letters_of_a_summary_are_dropped_by_its_path_and_only_its_own(delivery):
    for path in (
        "/edge/summaries/s%2F1/systems/planner",
        "/edge/summaries/s%2F1/embedding",
        "/edge/summaries/s%2F10/embedding",
    ):
        delivery.outbox.add("PUT", path, {})
        delivery.outbox.set_aside(delivery.outbox.oldest(), "HTTP 500")
    assert [summary_of(letter.path) for letter in delivery.outbox.dead_letters()] == ["s/1", "s/1", "s/10"]
    assert delivery.outbox.drop_dead_letters(["/edge/summaries/s%2F1/"]) == 2
    assert [letter.path for letter in delivery.outbox.dead_letters()] == ["/edge/summaries/s%2F10/embedding"]


def test_only_the_apis_own_404_says_a_summary_is_gone_not_api_gateways_for_a_wrong_url():
    assert ApiRejected(404, {"error": "not_found", "message": "no summarized session s1"}).summary_gone
    assert ApiRejected(410, {"error": "gone", "message": "deleted"}).summary_gone
    assert not ApiRejected(404, {"message": "Not Found"}).summary_gone  # API Gateway: no such route or stage
    assert not ApiRejected(404, {"error": "unknown_system", "message": "system x has not been published"}).summary_gone
    assert not ApiRejected(422, {"error": "not_found", "message": "?"}).summary_gone
