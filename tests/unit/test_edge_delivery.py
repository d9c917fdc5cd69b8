"""Send now, else keep in the outbox; replay in order; registry entries once per process."""

from __future__ import annotations

import pytest
from edge_fakes import FakeApi

from edge_worker.api_client import ApiRejected, ApiUnavailable
from edge_worker.delivery import Delivery, embedding_upload, registry_entry, system_definition
from edge_worker.outbox import Outbox
from schemas.lineage import content_version

CONTENT = {"model_id": "m", "weights_digest": "sha256:0"}
ENTRY = registry_entry(content_version("embedding-model", CONTENT), "embedding-model", CONTENT)


@pytest.fixture
def api() -> FakeApi:
    api = FakeApi()
    api.add_summary("s1")
    return api


@pytest.fixture
def outbox(tmp_path):
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    yield outbox
    outbox.close()


def waiting(outbox: Outbox) -> list[str]:
    paths = []
    while (entry := outbox.oldest()) is not None:
        paths.append(entry.path)
        outbox.remove(entry)
    return paths


def test_sent_now_with_the_last_answer(api, outbox):
    sent = Delivery(api, outbox).send(ENTRY, embedding_upload("s1", {"embedding_version": "e1", "vector": [1.0]}))
    assert sent.delivered and sent.answer == {"summary_id": "s1", "embedding_version": "e1"}
    assert outbox.size() == 0


def test_from_the_first_unreachable_send_the_rest_waits_in_order(api, outbox):
    delivery = Delivery(api, outbox)
    api.refused = {"PUT"}
    requests = [ENTRY, system_definition("planner", {"name": "planner"}), embedding_upload("s1", {"vector": []})]
    assert not delivery.send(*requests).delivered
    assert waiting(outbox) == [r.path for r in requests]


def test_a_registry_entry_is_sent_once_per_process_but_again_until_it_got_through(api, outbox):
    delivery = Delivery(api, outbox)
    api.available = False
    assert not delivery.send(ENTRY).delivered
    api.available = True
    assert delivery.send(ENTRY).delivered and delivery.send(ENTRY).delivered
    assert api.sent == [("PUT", ENTRY.path)]  # the second time it was known to be there
    api.available = False
    assert not delivery.send(ENTRY, system_definition("nudge", {})).delivered
    assert waiting(outbox) == [ENTRY.path, "/edge/systems/nudge"]  # only what had not got through


def test_a_rejection_is_raised_and_nothing_is_kept(api, outbox):
    api.rejections["/edge/systems/planner"] = (422, "name_mismatch")
    with pytest.raises(ApiRejected, match="name_mismatch"):
        Delivery(api, outbox).send(system_definition("planner", {}), system_definition("nudge", {}))
    assert outbox.size() == 0 and "nudge" not in api.systems


def test_keep_false_raises_instead_of_keeping(api, outbox):
    api.available = False
    with pytest.raises(ApiUnavailable):
        Delivery(api, outbox).send(ENTRY, keep=False)
    assert outbox.size() == 0


def test_replay_sends_oldest_first_and_stops_at_the_first_unreachable_send(api, outbox):
    delivery = Delivery(api, outbox)
    for name in ("a", "b", "c"):
        outbox.add("PUT", f"/edge/systems/{name}", {"name": name})
    api.available = False
    assert delivery.replay() == (0, [])
    assert outbox.size() == 3
    api.available = True
    api.rejections["/edge/systems/b"] = (422, "broken")
    sent, rejected = delivery.replay()
    assert (sent, outbox.size()) == (3, 0)
    assert rejected == ["PUT /edge/systems/b: HTTP 422: broken"]
    assert [path for _, path in api.sent] == ["/edge/systems/a", "/edge/systems/b", "/edge/systems/c"]


def test_the_outbox_survives_a_restart_in_order(tmp_path):
    first = Outbox(tmp_path / "outbox.sqlite3")
    first.add("PUT", "/edge/systems/a", {"n": 1})
    first.add("PUT", "/edge/systems/b", {"n": 2})
    first.close()
    again = Outbox(tmp_path / "outbox.sqlite3")
    entry = again.oldest()
    assert (entry.path, entry.body, again.size()) == ("/edge/systems/a", {"n": 1}, 2)
    again.close()
