"""Publish each new change-log entry as an Amazon EventBridge event on the stack's bus, sent in feed order.

Source EVENT_SOURCE, detail-type "Record Created|Updated|Deleted", detail a RecordChange (schemas.changes) whose
document is inline, or named by its S3 location when it is too large to travel in an event. PutEvents is not all
or nothing: when one entry is refused, the stream delivers it again with every later one, so a subscriber can see
an event twice and should keep the highest `seq` it applied per system (EventBridge delivers at least once anyway).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from boto3.dynamodb.types import TypeDeserializer

from functions.http.views import change_view
from functions.stores.changes import COUNTER_SEQ
from schemas.changes import DETAIL_TYPES, EVENT_SOURCE, S3Location

MAX_ENTRIES = 10  # PutEvents takes up to ten entries
MAX_REQUEST_BYTES = 256 * 1024  # and their entry_size total must stay below 256 KB

logger = Logger(child=True)
_deserializer = TypeDeserializer()


def new_entry(record: dict[str, Any]) -> dict[str, Any] | None:
    """The change-log entry a stream record inserted (None for the counter and for removed entries)."""
    if record.get("eventName") != "INSERT":
        return None
    image = record.get("dynamodb", {}).get("NewImage") or {}
    entry = {name: _deserializer.deserialize(value) for name, value in image.items()}
    return entry if int(entry.get("seq", COUNTER_SEQ)) != COUNTER_SEQ else None


def event_entry(entry: dict[str, Any], bus: str, bucket: str) -> dict[str, Any]:
    """One PutEvents entry for a change-log entry."""
    change = change_view(entry, json.loads(entry["document"]) if "document" in entry else None)
    if "document_key" in entry:
        change.document_location = S3Location(bucket=bucket, key=entry["document_key"])
    return {
        "Source": EVENT_SOURCE,
        "DetailType": DETAIL_TYPES[change.change],
        "Detail": change.model_dump_json(exclude_none=True),
        "EventBusName": bus,
        "Resources": [],
    }


def entry_size(entry: Mapping[str, Any]) -> int:
    """A PutEvents entry's size in bytes as EventBridge counts it against MAX_REQUEST_BYTES.

    Source: AWS, "Calculating Amazon EventBridge PutEvents event entry size": Time 14 bytes when present; Source,
    DetailType, Detail and each of Resources by their UTF-8 bytes. EventBusName and TraceHeader do not count.
    """
    size = 14 if entry.get("Time") is not None else 0
    texts = [entry.get("Source"), entry.get("DetailType"), entry.get("Detail"), *(entry.get("Resources") or [])]
    return size + sum(len(text.encode("utf-8")) for text in texts if text is not None)


def put_events_batches(entries: Sequence[Mapping[str, Any]]) -> Iterator[range]:
    """Split `entries` in order into the index ranges of consecutive PutEvents calls: each at most MAX_ENTRIES
    entries whose entry_size total stays below MAX_REQUEST_BYTES. An entry that is that large on its own gets a
    call of its own (EventBridge refuses it; a change entry never is, its inline document being at most
    INLINE_LIMIT_BYTES of functions.stores.records)."""
    start, total = 0, 0
    for n, entry in enumerate(entries):
        size = entry_size(entry)
        if n > start and (n - start == MAX_ENTRIES or total + size >= MAX_REQUEST_BYTES):
            yield range(start, n)
            start, total = n, 0
        total += size
    if start < len(entries):
        yield range(start, len(entries))


class ChangePublisher:
    def __init__(self, bus: str, bucket: str, events: Any = None) -> None:
        self.bus, self.bucket = bus, bucket
        self.events = events or boto3.client("events")

    def publish(self, records: list[dict[str, Any]], failed: Callable[[dict[str, Any]], None]) -> int:
        """Send the batch's new entries in order, in calls within PutEvents' limits (put_events_batches); at the
        first refused entry report its record (the stream delivers it and every later one again) and stop.
        Returns how many events were accepted."""
        pending = [(record, entry) for record in records if (entry := new_entry(record))]
        events = [event_entry(entry, self.bus, self.bucket) for _, entry in pending]
        accepted = 0
        for batch in put_events_batches(events):
            chunk = pending[batch.start : batch.stop]
            response = self.events.put_events(Entries=events[batch.start : batch.stop])
            results = response.get("Entries", [])
            accepted += sum(1 for result in results if not result.get("ErrorCode"))
            refused = next((n for n, result in enumerate(results) if result.get("ErrorCode")), None)
            if refused is None and response.get("FailedEntryCount"):
                refused = 0
            if refused is not None:
                logger.warning("change event refused", error=results[refused].get("ErrorMessage") if results else "")
                failed(chunk[refused][0])
                return accepted
        return accepted
