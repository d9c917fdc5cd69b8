"""Send now, else keep in the outbox; replay in order; registry entries once per process."""

from __future__ import annotations

import pytest
from edge_fakes import FakeApi

from edge_worker.api_client import ApiRejected, ApiUnavailable
from edge_worker.delivery import Delivery
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
    assert delivery.replay() == (0, [])
    assert delivery.outbox.size() == 3
    api.available = True
    api.rejections["/edge/systems/b"] = (422, "broken")
    sent, rejected = delivery.replay()
    assert (sent, delivery.outbox.size()) == (3, 0)
    assert rejected == ["PUT /edge/systems/b: HTTP 422: broken"]
    assert [path for _, path in api.sent] == ["/edge/systems/a", "/edge/systems/b", "/edge/systems/c"]
    assert list(api.systems) == ["a", "c"]


def test_what_waits_is_replayed_as_the_api_methods_would_have_sent_it(api, delivery):
    api.available = False
    lineage = Lineage(translator_model_version="m", translator_prompt_version="p", schema_version="s")
    record = RecordUpload(document={"x": 1}, lineage=lineage, expected_version=0)
    kept = [delivery.system("planner", {"name": "planner"}), delivery.embedding("s1", vector(E9))]
    delivery.send(*kept, delivery.record("s1", "planner", record))
    api.available = True
    api.rejections["/edge/summaries/s1/systems/planner"] = (422, "unknown_version")  # routed to the record
    assert delivery.replay() == (3, ["PUT /edge/summaries/s1/systems/planner: HTTP 422: unknown_version"])
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
