"""The local stack's AWS state kept across restarts: a snapshot of its tables, objects and queued messages.

A snapshot is read through the AWS APIs (DynamoDB Scan, S3 ListObjectVersions + GetObject) plus moto's queue
contents (local_stack.moto_server's QUEUE_MESSAGES_PATH route: an SQS receive would count towards redrive), and
written to a folder as `snapshot.json` (replaced atomically) with object bodies in `objects/<sha256>`. Restoring
writes the same items, object versions (oldest first, delete markers included; S3 gives them new version ids)
and messages into a freshly provisioned moto, before the stack serves anything. Why not moto's request recorder:
replaying requests re-runs them at another time, and conditional writes and TTLs that compare times then fail.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.idempotency.persistence.base import STATUS_CONSTANTS
from botocore.exceptions import ClientError

from edge_worker.config import private_dir, write_private
from local_stack.moto_process import QUEUE_MESSAGES_PATH
from local_stack.provision import Provisioned, aws_client

FORMAT = 1
SNAPSHOT_FILE = "snapshot.json"
IN_PROGRESS_EXPIRY = "in_progress_expiration"


@dataclass
class Counts:
    items: int = 0
    objects: int = 0
    messages: int = 0
    stream_records: int = 0  # table changes a stop kept from their stream's function

    def __str__(self) -> str:
        undelivered = f", {self.stream_records} table changes to deliver" if self.stream_records else ""
        return f"{self.items} table items, {self.objects} object versions, {self.messages} queued messages{undelivered}"


def _binary_to_json(value: Any) -> Any:
    """DynamoDB typed JSON with B / BS values (bytes) as base64 text, and back with `_binary_from_json`."""
    if isinstance(value, dict):
        return {
            key: (
                base64.b64encode(item).decode()
                if key == "B"
                else [base64.b64encode(b).decode() for b in item]
                if key == "BS"
                else _binary_to_json(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_binary_to_json(item) for item in value]
    return value


def _binary_from_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: (
                base64.b64decode(item)
                if key == "B"
                else [base64.b64decode(b) for b in item]
                if key == "BS"
                else _binary_from_json(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_binary_from_json(item) for item in value]
    return value


class StateStore:
    """Snapshots of one provisioned stack in `folder`. `save()` is safe to call while the stack runs (a checkpoint:
    each table is read as of its own scan); after a clean stop it is exact."""

    def __init__(self, folder: Path, provisioned: Provisioned, endpoint: str) -> None:
        self.folder, self.provisioned, self.endpoint = folder, provisioned, endpoint
        self._known: dict[tuple[str, str, str, str], dict[str, Any]] = {}  # (bucket, key, version, etag)
        self._lock = threading.Lock()
        self.stream_backlog: dict[str, list[dict[str, Any]]] = {}  # what restore() found undelivered, by source

    @property
    def path(self) -> Path:
        return self.folder / SNAPSHOT_FILE

    def exists(self) -> bool:
        return self.path.exists()

    # ----- save -----
    def save(self, stream_backlog: dict[str, list[dict[str, Any]]] | None = None) -> Counts:
        """Write a snapshot of every table, bucket and queue, and `stream_backlog`: stream event records not yet
        delivered (by event source, "<function> <table>"; delivered first on the next start); returns what it holds. Raises OSError or botocore errors (the
        previous snapshot is then left as it was)."""
        with self._lock:
            private_dir(self.folder)
            private_dir(self.folder / "objects")
            snapshot = {
                "format": FORMAT,
                "tables": self._tables(),
                "buckets": self._buckets(),
                "queues": self._queues(),
                "streams": {
                    source: _binary_to_json(records) for source, records in (stream_backlog or {}).items() if records
                },
            }
            write_private(self.path, json.dumps(snapshot))
            self._drop_unused_objects(snapshot)
            return _counts(snapshot)

    def _logical(self, resource_type: str) -> list[str]:
        return self.provisioned.logical_of(resource_type)

    def _tables(self) -> dict[str, list[dict[str, Any]]]:
        ddb, tables = aws_client("dynamodb", self.endpoint), {}
        for logical in self._logical("AWS::DynamoDB::Table"):
            items: list[dict[str, Any]] = []
            for page in ddb.get_paginator("scan").paginate(TableName=self.provisioned.physical[logical]):
                items += [_binary_to_json(item) for item in page["Items"]]
            tables[logical] = items
        return tables

    def _buckets(self) -> dict[str, list[dict[str, Any]]]:
        s3, buckets = aws_client("s3", self.endpoint), {}
        for logical in self._logical("AWS::S3::Bucket"):
            bucket = self.provisioned.physical[logical]
            entries: list[dict[str, Any]] = []
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                listed = [(v, False) for v in page.get("Versions", [])] + [
                    (m, True) for m in page.get("DeleteMarkers", [])
                ]
                for entry, is_marker in listed:
                    record = {"key": entry["Key"], "version": entry.get("VersionId") or "null"}
                    record["modified"] = entry["LastModified"].isoformat()
                    if is_marker:
                        record["delete_marker"] = True
                    else:
                        body = self._object_body(s3, bucket, entry)
                        if body is None:
                            continue  # deleted since the listing (a checkpoint while the stack runs)
                        record.update(body)
                    entries.append(record)
            # Oldest first within a key; the listing gives a key's versions newest first.
            order = {id(e): n for n, e in enumerate(entries)}
            entries.sort(key=lambda e: (e["key"], e["modified"], -order[id(e)]))
            buckets[logical] = entries
        return buckets

    def _object_body(self, s3: Any, bucket: str, entry: dict[str, Any]) -> dict[str, Any] | None:
        """{sha256, content_type, metadata} of one object version, or None if it is gone; its body is read once
        per stack run."""
        version = entry.get("VersionId") or "null"
        known = (bucket, entry["Key"], version, entry.get("ETag", ""))
        if known not in self._known or not (self.folder / "objects" / self._known[known]["sha256"]).exists():
            extra = {} if version == "null" else {"VersionId": version}
            try:
                response = s3.get_object(Bucket=bucket, Key=entry["Key"], **extra)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "NoSuchVersion"):
                    return None
                raise
            body = response["Body"].read()
            digest = hashlib.sha256(body).hexdigest()
            blob = self.folder / "objects" / digest
            if not blob.exists():
                write_private(blob, body)
            self._known[known] = {
                "sha256": digest,
                "content_type": response.get("ContentType", ""),
                "metadata": response.get("Metadata", {}),
            }
        return dict(self._known[known])

    def _queues(self) -> dict[str, list[dict[str, Any]]]:
        with urllib.request.urlopen(f"{self.endpoint}{QUEUE_MESSAGES_PATH}", timeout=30) as response:
            by_name = json.loads(response.read())
        queues = {}
        for logical in self._logical("AWS::SQS::Queue"):
            name = self.provisioned.physical[logical].rstrip("/").rsplit("/", 1)[1]
            queues[logical] = by_name.get(name, [])
        return queues

    def _drop_unused_objects(self, snapshot: dict[str, Any]) -> None:
        used = {e["sha256"] for entries in snapshot["buckets"].values() for e in entries if "sha256" in e}
        for blob in (self.folder / "objects").iterdir():
            if blob.name not in used:
                with contextlib.suppress(OSError):
                    blob.unlink()

    # ----- restore -----
    def restore(self) -> Counts:
        """Load the snapshot into the freshly provisioned stack (its tables, buckets and queues must be empty).
        Resources the snapshot has but the template no longer declares are skipped, and so are idempotency
        records still in progress: the invocation that wrote one was ended with the last run, and the record would
        refuse its redelivery (IdempotencyAlreadyInProgressError) until the invocation's timeout ran out."""
        snapshot = json.loads(self.path.read_text(encoding="utf-8"))
        if snapshot.get("format") != FORMAT:
            raise ValueError(f"{self.path}: snapshot format {snapshot.get('format')!r}, expected {FORMAT}")
        physical = self.provisioned.physical
        ddb = aws_client("dynamodb", self.endpoint)
        for logical, items in snapshot["tables"].items():
            if logical in physical:
                kept = [_binary_from_json(item) for item in items if not _in_progress(item)]
                _put_items(ddb, physical[logical], kept)
        s3 = aws_client("s3", self.endpoint)
        for logical, entries in snapshot["buckets"].items():
            for entry in entries if logical in physical else []:
                if entry.get("delete_marker"):
                    s3.delete_object(Bucket=physical[logical], Key=entry["key"])
                    continue
                extra = {"ContentType": entry["content_type"]} if entry.get("content_type") else {}
                s3.put_object(
                    Bucket=physical[logical],
                    Key=entry["key"],
                    Body=(self.folder / "objects" / entry["sha256"]).read_bytes(),
                    Metadata=entry.get("metadata") or {},
                    **extra,
                )
        sqs = aws_client("sqs", self.endpoint)
        for logical, messages in snapshot["queues"].items():
            for message in messages if logical in physical else []:
                _send(sqs, physical[logical], message)
        self.stream_backlog = {source: _binary_from_json(records) for source, records in _streams(snapshot).items()}
        return _counts(snapshot)


def _in_progress(item: dict[str, Any]) -> bool:
    """A Powertools idempotency record (DynamoDBPersistenceLayer's default attribute names) still INPROGRESS."""
    return IN_PROGRESS_EXPIRY in item and item.get("status", {}).get("S") == STATUS_CONSTANTS["INPROGRESS"]


def _put_items(ddb: Any, table: str, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 25):
        requests: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
        while requests:
            requests = ddb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}


def _send(sqs: Any, queue_url: str, message: dict[str, Any]) -> None:
    options: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": message["body"]}
    if message.get("group_id"):
        options["MessageGroupId"] = message["group_id"]
    if message.get("deduplication_id"):
        options["MessageDeduplicationId"] = message["deduplication_id"]
    if message.get("message_attributes"):
        options["MessageAttributes"] = message["message_attributes"]
    sqs.send_message(**options)


def _streams(snapshot: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return snapshot.get("streams") or {}  # snapshots written before stream backlogs were kept have none


def _counts(snapshot: dict[str, Any]) -> Counts:
    return Counts(
        items=sum(len(items) for items in snapshot["tables"].values()),
        objects=sum(len(entries) for entries in snapshot["buckets"].values()),
        messages=sum(len(messages) for messages in snapshot["queues"].values()),
        stream_records=sum(len(records) for records in _streams(snapshot).values()),
    )


class Checkpoints:
    """Saves a StateStore every `interval_s` seconds on a thread until stopped; a failed save is reported to
    `on_error` and tried again next time."""

    def __init__(
        self,
        store: StateStore,
        interval_s: float,
        on_error: Any = None,
        stream_backlog: Callable[[], dict[str, list[dict[str, Any]]]] | None = None,
    ) -> None:
        """`stream_backlog`: the stream records in hand to save with each checkpoint (StateStore.save)."""
        self.store, self.interval_s, self.on_error = store, interval_s, on_error
        self.stream_backlog = stream_backlog or dict
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="checkpoints", daemon=True)

    def start(self) -> Checkpoints:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.store.save(self.stream_backlog())
            except Exception as exc:
                if self.on_error:
                    self.on_error(exc)
