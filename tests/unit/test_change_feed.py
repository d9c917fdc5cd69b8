"""The change feed over fakes: pages in order from a cursor that never skips or repeats, sessions being deleted
hidden, and each new entry published as one EventBridge event in feed order."""

from __future__ import annotations

import json

import pytest
from cloud_fakes import ApiWorld, add_summarized, system_definition

from functions.change_feed.publisher import ChangePublisher
from functions.errors import ClientError
from functions.stores.changes import entry_document
from schemas.changes import DETAIL_TYPES, EVENT_SOURCE, RecordChange
from schemas.edge_api import RecordUpload
from schemas.system_definition import SystemDefinition

LINEAGE = {
    "translator_model_version": "translator-model:m1",
    "translator_prompt_version": "translator-prompt:p1",
    "schema_version": SystemDefinition.from_dict(system_definition()).schema_version,
}


@pytest.fixture
def world() -> ApiWorld:
    world = ApiWorld()
    world.edge.publish_system("planner", system_definition())
    for n in range(3):
        add_summarized(world.sessions, f"s-{n}")
        for version in range(4):
            upload = RecordUpload(document={"title": f"v{version}"}, lineage=LINEAGE, expected_version=version)
            world.edge.put_record(f"s-{n}", "planner", upload)
    return world


def read_all(world: ApiWorld, since: str = "0", limit: int = 5) -> list[RecordChange]:
    changes = []
    while True:
        page = world.reads.system_changes("planner", since, limit)
        changes += page.items
        if not page.items and not page.more:
            return changes
        since = page.next


def test_pages_follow_the_cursor_in_order_without_gaps_or_repeats(world):
    changes = read_all(world)
    assert [c.seq for c in changes] == list(range(1, 13))
    assert [(c.summary_id, c.version) for c in changes[:4]] == [("s-0", 1), ("s-0", 2), ("s-0", 3), ("s-0", 4)]
    assert changes[0].change == "created" and changes[1].change == "updated"
    assert changes[-1].document == {"title": "v3"} and changes[-1].lineage.schema_version == LINEAGE["schema_version"]
    assert read_all(world, since="12") == []
    tail = world.reads.system_changes("planner", "12", 5)
    assert (tail.items, tail.next, tail.more) == ([], "12", False)


def test_a_session_being_deleted_is_hidden_and_its_deletion_shows(world):
    world.sessions.items["s-1"]["status"] = "DELETING"
    assert {c.summary_id for c in read_all(world)} == {"s-0", "s-2"}
    world.records.remove(world.records.get("s-1", "planner"))
    last = read_all(world, since="12")
    assert [(c.seq, c.summary_id, c.change, c.document) for c in last] == [(13, "s-1", "deleted", None)]


@pytest.mark.parametrize("since", ["-1", "1.5", "abc", "9" * 20, ""])
def test_a_bad_cursor_is_refused(world, since):
    with pytest.raises(ClientError) as error:
        world.reads.system_changes("planner", since, 5)
    assert (error.value.status, error.value.code) == (400, "invalid_cursor")


# ----- publishing -----
def stream_record(entry: dict, sequence: str, event: str = "INSERT") -> dict:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    image = {name: serializer.serialize(value) for name, value in entry.items()}
    return {"eventName": event, "dynamodb": {"NewImage": image, "SequenceNumber": sequence}}


class FakeEvents:
    def __init__(self, refuse_at: int | None = None) -> None:
        self.entries: list[dict] = []
        self.refuse_at = refuse_at

    def put_events(self, Entries: list[dict]) -> dict:
        results = []
        for entry in Entries:
            if self.refuse_at is not None and len(self.entries) == self.refuse_at:
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "injected"})
                self.refuse_at = None
                continue
            self.entries.append(entry)
            results.append({"EventId": str(len(self.entries))})
        return {"FailedEntryCount": sum(1 for r in results if "ErrorCode" in r), "Entries": results}


def entries(world: ApiWorld) -> list[dict]:
    return [entry for _, entry in sorted(world.changes.entries["planner"].items())]


def test_each_entry_becomes_one_event_in_feed_order(world):
    events = FakeEvents()
    counter = {"system": "planner", "seq": 0, "last_seq": 12}
    records = [stream_record(counter, "0", "MODIFY")] + [stream_record(e, str(e["seq"])) for e in entries(world)]
    assert ChangePublisher("changes-bus", "bucket", events).publish(records, failed=pytest.fail) == 12
    details = [json.loads(e["Detail"]) for e in events.entries]
    assert [d["seq"] for d in details] == list(range(1, 13))
    assert {(e["Source"], e["EventBusName"]) for e in events.entries} == {(EVENT_SOURCE, "changes-bus")}
    assert [e["DetailType"] for e in events.entries[:2]] == [DETAIL_TYPES["created"], DETAIL_TYPES["updated"]]
    assert RecordChange.model_validate(details[3]).document == entry_document(entries(world)[3])


def test_a_refused_event_is_sent_again_with_every_later_one(world):
    events, failed = FakeEvents(refuse_at=4), []
    records = [stream_record(e, str(e["seq"])) for e in entries(world)]
    publisher = ChangePublisher("bus", "bucket", events)
    assert publisher.publish(records, failed=failed.append) == 9
    assert [r["dynamodb"]["SequenceNumber"] for r in failed] == ["5"]
    assert [json.loads(e["Detail"])["seq"] for e in events.entries] == [1, 2, 3, 4, 6, 7, 8, 9, 10]
    publisher.publish(records[4:], failed=pytest.fail)  # the stream's retry from the reported record
    assert sorted({json.loads(e["Detail"])["seq"] for e in events.entries}) == list(range(1, 13))


def test_a_large_document_travels_as_its_location():
    entry = {
        "system": "planner",
        "seq": 1,
        "summary_id": "s-1",
        "change": "created",
        "version": 1,
        "changed_at": "2026-11-24T09:00:00.000Z",
        "author": "edge",
        "document_hash": "a" * 64,
        "document_key": "records/s-1/planner/1.json",
        **LINEAGE,
    }
    events = FakeEvents()
    ChangePublisher("bus", "data-bucket", events).publish([stream_record(entry, "1")], failed=pytest.fail)
    detail = json.loads(events.entries[0]["Detail"])
    assert "document" not in detail
    assert detail["document_location"] == {"bucket": "data-bucket", "key": "records/s-1/planner/1.json"}
