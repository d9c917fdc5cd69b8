"""Publish each new change-log entry as an Amazon EventBridge event on the stack's bus, sent in feed order.

Source EVENT_SOURCE, detail-type "Record Created|Updated|Deleted", detail a RecordChange (schemas.changes) whose
document is inline, or named by its S3 location when it is too large to travel in an event. PutEvents is not all
or nothing: when one entry is refused, the stream delivers it again with every later one, so a subscriber can see
an event twice and should keep the highest `seq` it applied per system (EventBridge delivers at least once anyway).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from boto3.dynamodb.types import TypeDeserializer

from functions.http.views import change_view
from functions.stores.changes import COUNTER_SEQ
from schemas.changes import DETAIL_TYPES, EVENT_SOURCE, S3Location

MAX_ENTRIES = 10  # PutEvents takes up to ten entries

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


class ChangePublisher:
    def __init__(self, bus: str, bucket: str, events: Any = None) -> None:
        self.bus, self.bucket = bus, bucket
        self.events = events or boto3.client("events")

    def publish(self, records: list[dict[str, Any]], failed: Callable[[dict[str, Any]], None]) -> int:
        """Send the batch's new entries in order, ten per call; at the first refused entry report its record
        (the stream delivers it and every later one again) and stop. Returns how many events were accepted."""
        pending = [(record, entry) for record in records if (entry := new_entry(record))]
        accepted = 0
        for start in range(0, len(pending), MAX_ENTRIES):
            chunk = pending[start : start + MAX_ENTRIES]
            response = self.events.put_events(Entries=[event_entry(e, self.bus, self.bucket) for _, e in chunk])
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
