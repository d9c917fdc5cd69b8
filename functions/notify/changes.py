"""What a dashboard needs to hear about one table change (small messages; the page fetches details)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord


def change_message(record: DynamoDBRecord) -> dict[str, Any] | None:
    change = record.dynamodb
    image = (change.new_image or change.old_image or {}) if change else {}
    event = record.event_name.name if record.event_name else ""
    if "session_id" in image:
        return {
            "type": "summary",
            "event": event,
            "summary_id": image["session_id"],
            "status": "DELETED" if event == "REMOVE" else image.get("status"),
        }
    if "summary_id" in image and "system" in image:
        return {
            "type": "record",
            "event": event,
            "summary_id": image["summary_id"],
            "system": image["system"],
            "version": int(image.get("version", 0)),
        }
    return None
