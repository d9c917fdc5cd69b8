"""The change feed over fakes: pages in order from a cursor that never skips or repeats, sessions being deleted
hidden, and each new entry published as one EventBridge event in feed order."""

from __future__ import annotations

import datetime
import json

import boto3
import pytest
from cloud_fakes import ApiWorld, add_summarized, system_definition
from moto import mock_aws

from functions.change_feed.publisher import (
    MAX_REQUEST_BYTES,
    ChangePublisher,
    entry_size,
    event_entry,
    put_events_batches,
)
from functions.errors import ClientError
from functions.stores.changes import entry_document
from functions.stores.records import INLINE_LIMIT_BYTES
from schemas.changes import DETAIL_TYPES, EVENT_SOURCE, RecordChange
from schemas.edge_api import RecordUpload
from schemas.lineage import canonical_json
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
    with pytest.raises(ClientError) as past:  # a cursor of another feed would skip changes 13 to 1000 unseen
        world.reads.system_changes("planner", "1000", 5)
    assert (past.value.code, past.value.message) == (
        "invalid_cursor",
        "since 1000 is past planner's last change, 12: a cursor from another feed?",
    )


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
        self.calls: list[list[dict]] = []
        self.refuse_at = refuse_at

    def put_events(self, Entries: list[dict]) -> dict:
        self.calls.append(Entries)
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


# ----- PutEvents limits: at most ten entries, and their sizes total less than 256 KB -----
PUT_EVENTS_MAX_BYTES = 262_144


def aws_entry_size(entry: dict) -> int:
    """AWS's "Calculating Amazon EventBridge PutEvents event entry size", written out again for the tests."""
    size = 14 if entry.get("Time") is not None else 0
    size += len(entry["Source"].encode("utf-8")) + len(entry["DetailType"].encode("utf-8"))
    size += len(entry["Detail"].encode("utf-8")) if entry.get("Detail") is not None else 0
    return size + sum(len(r.encode("utf-8")) for r in entry.get("Resources") or [] if r is not None)


def change_entry(seq: int, document: dict | None, **fields) -> dict:
    """A change-log entry as the changes table keeps it, its document inline."""
    entry = {
        "system": "planner",
        "seq": seq,
        "summary_id": f"s-{seq}",
        "change": "updated",
        "version": 2,
        "changed_at": "2026-11-24T09:00:00.000Z",
        "author": "edge",
        "document_hash": "a" * 64,
        **LINEAGE,
        **fields,
    }
    return entry if document is None else {**entry, "document": canonical_json(document)}


def document_of(size: int, **fields: str) -> dict:
    """A document whose stored text is `size` UTF-8 bytes, a third of its characters taking two bytes."""
    document = {"notes": "é" * (size // 4) + "x" * (size // 4), **fields}
    document["notes"] += "x" * (size - len(canonical_json(document).encode("utf-8")))
    return document


def assert_within_limits(calls: list[list[dict]]) -> None:
    for call in calls:
        assert 1 <= len(call) <= 10
        assert sum(aws_entry_size(entry) for entry in call) < PUT_EVENTS_MAX_BYTES


@pytest.fixture
def aws_events(monkeypatch):
    """A moto EventBridge client with bus "changes-bus", and the Entries of each PutEvents call it is sent."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    calls: list[list[dict]] = []
    with mock_aws():
        client = boto3.client("events", region_name="us-east-1")
        client.create_event_bus(Name="changes-bus")
        client.meta.events.register(
            "before-parameter-build.events.PutEvents",
            lambda params, **_: calls.append([dict(entry) for entry in params["Entries"]]),
        )
        yield client, calls


def test_ten_large_entries_are_split_by_request_size_in_feed_order(aws_events):
    client, calls = aws_events
    sizes = [30_000] * 10 + [200] * 12 + [INLINE_LIMIT_BYTES] * 3 + [30_000] * 5
    records = [stream_record(change_entry(n, document_of(size)), str(n)) for n, size in enumerate(sizes, 1)]
    assert ChangePublisher("changes-bus", "bucket", client).publish(records, failed=pytest.fail) == len(sizes)
    assert_within_limits(calls)
    assert [json.loads(entry["Detail"])["seq"] for call in calls for entry in call] == list(range(1, len(sizes) + 1))
    assert max(len(call) for call in calls) == 10  # small entries still go ten at a time


def test_a_refusal_in_a_size_split_call_stops_there():
    events, failed = FakeEvents(refuse_at=8), []
    records = [stream_record(change_entry(n, document_of(30_000)), str(n)) for n in range(1, 21)]
    accepted = ChangePublisher("bus", "bucket", events).publish(records, failed=failed.append)
    assert_within_limits(events.calls)
    assert [r["dynamodb"]["SequenceNumber"] for r in failed] == ["9"]
    assert "9" in {str(json.loads(entry["Detail"])["seq"]) for entry in events.calls[-1]}  # no call after it
    assert accepted == sum(len(call) for call in events.calls) - 1 == len(events.entries)


def test_the_largest_inline_document_fits_in_a_call_on_its_own():
    """No entry needs the S3 form beyond what the record store already chose: an inline document is at most
    INLINE_LIMIT_BYTES, and with the longest ids and lineage allowed, that entry stays well under 256 KB."""
    document = document_of(INLINE_LIMIT_BYTES, controls='"\\\n\x01\U0001f600/\u2028\x7f')
    assert len(canonical_json(document).encode("utf-8")) == INLINE_LIMIT_BYTES
    longest = {name: "r" * 200 for name in LINEAGE} | {"translator_adapter_version": "r" * 200}
    entry = change_entry(10**15, document, system="p" * 63, summary_id="S" * 128, **longest)
    event = event_entry(entry, "bus", "bucket")
    assert json.loads(event["Detail"])["document"] == document
    assert entry_size(event) == aws_entry_size(event) < INLINE_LIMIT_BYTES + 2_000 < PUT_EVENTS_MAX_BYTES


def test_an_entry_too_large_on_its_own_gets_a_call_of_its_own():
    small, huge = {"Source": "s", "DetailType": "d", "Detail": "{}"}, {"Source": "s", "DetailType": "d"}
    huge["Detail"] = "x" * PUT_EVENTS_MAX_BYTES
    entries = [small, huge, huge, *[small] * 12]
    assert [(r.start, r.stop) for r in put_events_batches(entries)] == [(0, 1), (1, 2), (2, 3), (3, 13), (13, 15)]


def test_entry_size_follows_the_aws_formula():
    entry = {
        "Time": datetime.datetime(2026, 11, 24, tzinfo=datetime.UTC),
        "Source": "src",
        "DetailType": "Récord",
        "Detail": '{"a":"😀"}',
        "Resources": ["arn:x", "é"],
        "EventBusName": "not counted",
    }
    assert entry_size(entry) == 14 + 3 + 7 + 12 + 5 + 2 == aws_entry_size(entry)
    assert MAX_REQUEST_BYTES == PUT_EVENTS_MAX_BYTES
