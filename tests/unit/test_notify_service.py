"""NotifyFunction's logic over fakes: small change messages, broadcast to open connections, gone ones forgotten."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from cloud_fakes import FakeConnectionsApi, FakeConnectionStore

from functions.notify.changes import change_message
from functions.notify.service import Notifier


def stream_record(event: str, new: dict | None, old: dict | None = None) -> DynamoDBRecord:
    return DynamoDBRecord({"eventName": event, "dynamodb": {"NewImage": new, "OldImage": old}})


def test_session_and_record_changes_become_small_messages():
    summarized = stream_record(
        "MODIFY", {"session_id": {"S": "s-1"}, "status": {"S": "SUMMARIZED"}, "raw_key": {"S": "sessions/s-1/x"}}
    )
    assert change_message(summarized) == {
        "type": "summary",
        "event": "MODIFY",
        "summary_id": "s-1",
        "status": "SUMMARIZED",
    }
    record = stream_record(
        "INSERT",
        {"summary_id": {"S": "s-1"}, "system": {"S": "planner"}, "version": {"N": "2"}, "document": {"S": "{}"}},
    )
    assert change_message(record) == {
        "type": "record",
        "event": "INSERT",
        "summary_id": "s-1",
        "system": "planner",
        "version": 2,
    }
    removed = stream_record("REMOVE", None, {"session_id": {"S": "s-1"}, "status": {"S": "RECEIVED"}})
    assert change_message(removed)["event"] == "REMOVE"
    assert change_message(stream_record("INSERT", {"channel": {"S": "dashboard"}})) is None


def test_broadcast_reaches_every_open_connection_and_forgets_gone_ones():
    connections, api = FakeConnectionStore(), FakeConnectionsApi(gone={"c-2"})
    notifier = Notifier(connections, api)
    for connection_id in ("c-1", "c-2", "c-3"):
        notifier.connect(connection_id, "dashboard")
    assert notifier.broadcast({"type": "summary", "summary_id": "s-1"}) == 2
    assert [c for c, _ in api.posted] == ["c-1", "c-3"] and api.posted[0][1]["summary_id"] == "s-1"
    assert list(connections.ids()) == ["c-1", "c-3"]
    notifier.disconnect("c-1")
    assert notifier.broadcast({"type": "summary"}) == 1
