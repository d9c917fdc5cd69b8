"""The sessions table and the session objects in the data bucket (raw sessions, summary texts): their one owner.

Items are SummaryRecord (schemas.contracts); every query and conditional write on the table is a method here.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError as BotoClientError

from functions.clock import utc_now
from functions.errors import not_found
from functions.stores.dynamo import (
    batch_get,
    cancellation_reasons,
    conditionally,
    dynamo_number,
    query_all,
    table,
    to_dynamo,
)
from functions.stores.paging import Page, merged_query_page, query_page
from functions.stores.versions import delete_versions
from schemas.contracts import Session, SessionStatus, SummaryRecord, SystemState, TokenUsage

# by_status, by_source and by_user sort by started_at, stored in the session's own offset: its first ten
# characters are the session's day (schemas.contracts.session_day), so a range of days is a range of keys.
BY_STATUS = "by_status"
BY_SOURCE = "by_source"
BY_USER = "by_user"
BY_PENDING_BATCH = "by_pending_batch"  # sparse: only sessions waiting in a Message Batch carry batch_state
BATCH_PENDING = "PENDING"
MAX_ERROR_CHARS = 2000

RECEIVED, SUMMARIZED, FAILED, DELETING = (
    SessionStatus.RECEIVED.value,
    SessionStatus.SUMMARIZED.value,
    SessionStatus.FAILED.value,
    SessionStatus.DELETING.value,
)
NOT_DELETING = Attr("status").ne(DELETING)  # lists hide sessions being deleted
_STATUS_AND_ERROR = {"#s": "status", "#e": "error"}


def distill_key_text(key: dict[str, str]) -> str:
    """A distillation's idempotency key as stored in the session's `distill_keys` set (canonical JSON)."""
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


def distill_keys(item: dict[str, Any]) -> list[dict[str, str]]:
    """The distillation keys listed on a session item (sorted)."""
    return [json.loads(text) for text in sorted(item.get("distill_keys") or ())]


def raw_key(session_id: str, content_hash: str) -> str:
    # Content-addressed, so a conflicting POST can never overwrite what was accepted.
    return f"sessions/{session_id}/{content_hash}.json"


def raw_prefix(session_id: str) -> str:
    """Every raw object of a session (one per content it was posted with) is under this prefix."""
    return f"sessions/{session_id}/"


def summary_key(session_id: str) -> str:
    return f"summaries/{session_id}.md"


def received_item(session: Session, content_hash: str, key: str, now: str) -> dict[str, Any]:
    """A just-accepted session's item: a SummaryRecord whose raw session is at `key`."""
    record = SummaryRecord(
        session_id=session.session_id,
        source=session.source,
        user_id=session.user_id,
        status=SessionStatus.RECEIVED,
        content_hash=content_hash,
        received_at=now,
        received_day=now[:10],
        updated_at=now,
        started_at=session.started_at.isoformat(),
        raw_key=key,
        turn_count=len(session.turns),
        attempts=0,
        systems={},
    )
    return record.model_dump(mode="json", exclude_none=True)


@dataclass(frozen=True)
class SessionFilters:
    """What a listing selects: any of status, source and user, and the sessions' own days from..to (YYYY-MM-DD,
    inclusive; either may be left open)."""

    status: str | None = None
    source: str | None = None
    user_id: str | None = None
    day_from: str | None = None
    day_to: str | None = None


def _started_between(day_from: str | None, day_to: str | None) -> Any:
    """A key condition on started_at for sessions whose own day is within day_from..day_to (None: no bound)."""
    started = Key("started_at")
    last = date.fromisoformat(day_to) if day_to else None
    after_last = (last + timedelta(days=1)).isoformat() if last and last < date.max else None  # 9999-12-31: no end
    if day_from and after_last:
        return started.between(day_from, after_last)  # no started_at equals a bare date, so the end is exclusive
    if day_from:
        return started.gte(day_from)
    if after_last:
        return started.lt(after_last)
    return None


@dataclass(frozen=True)
class SummaryMade:
    """A summary as the session item records it: where its text is, its lineage, usage and cost."""

    summary_key: str
    model_version: str
    prompt_version: str
    usage: TokenUsage
    cost_usd: float | None  # None: the model has no price (unknown cost)
    latency_ms: int
    stop_reason: str | None = None

    def fields(self, now: str) -> dict[str, Any]:
        """The SummaryRecord attributes a summarized session gets."""
        return {
            "summary_key": self.summary_key,
            "summarizer_model_version": self.model_version,
            "summarizer_prompt_version": self.prompt_version,
            "usage": self.usage.model_dump(),
            "cost_usd": None if self.cost_usd is None else dynamo_number(round(self.cost_usd, 8)),
            "latency_ms": self.latency_ms,
            "stop_reason": self.stop_reason,
            "summarized_at": now,
            "status": SUMMARIZED,
            "updated_at": now,
        }


class SessionStore:
    def __init__(self, table_name: str, bucket: str) -> None:
        self.table, self.table_name = table(table_name), table_name
        self.s3, self.bucket = boto3.client("s3"), bucket

    # ----- reads -----
    def get(self, session_id: str) -> dict[str, Any] | None:
        return self.table.get_item(Key={"session_id": session_id}, ConsistentRead=True).get("Item")

    def summarized(self, session_id: str) -> dict[str, Any]:
        """The item of a SUMMARIZED session; a 404 ClientError otherwise."""
        item = self.get(session_id)
        if not item or item.get("status") != SUMMARIZED:
            raise not_found(f"no summarized session {session_id}")
        return item

    def page(self, filters: SessionFilters, limit: int, next_token: str | None) -> Page:
        """Sessions newest first (by started_at) in paginated Queries: on the index of the user, else the source,
        else the status, with the other filters as a filter expression (a page may then hold fewer items); with
        none of them, the three status partitions of by_status read as one list."""
        started = _started_between(filters.day_from, filters.day_to)
        indexed = [(BY_USER, "user_id", filters.user_id), (BY_SOURCE, "source", filters.source)]
        indexed.append((BY_STATUS, "status", filters.status))
        chosen = [(index, name, value) for index, name, value in indexed if value]
        if not chosen:
            queries = {
                status.value: {
                    "IndexName": BY_STATUS,
                    "KeyConditionExpression": _and(Key("status").eq(status.value), started),
                    "ScanIndexForward": False,
                }
                for status in SessionStatus
                if status is not SessionStatus.DELETING
            }
            return merged_query_page(
                self.table, queries, lambda item: item["started_at"], limit=limit, next_token=next_token
            )
        (index, name, value), rest = chosen[0], chosen[1:]
        query: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": _and(Key(name).eq(value), started),
            "ScanIndexForward": False,
        }
        query["FilterExpression"] = functools.reduce(operator.and_, [Attr(n).eq(v) for _, n, v in rest], NOT_DELETING)
        return query_page(self.table, limit=limit, next_token=next_token, **query)

    def summarized_page(self, limit: int, next_token: str | None) -> Page:
        """The edge's listing: SUMMARIZED sessions, oldest first."""
        key = Key("status").eq(SUMMARIZED)
        return query_page(
            self.table, limit=limit, next_token=next_token, IndexName=BY_STATUS, KeyConditionExpression=key
        )

    def summarized_ids(self) -> Iterator[str]:
        key = Key("status").eq(SUMMARIZED)
        items = query_all(
            self.table, IndexName=BY_STATUS, KeyConditionExpression=key, ProjectionExpression="session_id"
        )
        return (item["session_id"] for item in items)

    def received_times(self, session_ids: set[str]) -> dict[str, str]:
        """session_id -> received_at for the ids that exist and are not being deleted."""
        keys = [{"session_id": session_id} for session_id in sorted(session_ids)]
        items = batch_get(self.table, keys, projection="session_id, received_at, #s", names={"#s": "status"})
        return {item["session_id"]: item["received_at"] for item in items if item.get("status") != DELETING}

    def search_facts(self, session_ids: set[str]) -> dict[str, dict[str, Any]]:
        """session_id -> {received_at, user_id, status, summary_key} for the ids that exist and are not being
        deleted (what a search answer shows beside each hit)."""
        keys = [{"session_id": session_id} for session_id in sorted(session_ids)]
        projection = "session_id, received_at, user_id, #s, summary_key"
        items = batch_get(self.table, keys, projection=projection, names={"#s": "status"})
        return {item["session_id"]: item for item in items if item.get("status") != DELETING}

    def statuses(self, session_ids: set[str]) -> dict[str, str]:
        """session_id -> status for the ids that exist (consistent reads)."""
        keys = [{"session_id": session_id} for session_id in sorted(session_ids)]
        items = batch_get(self.table, keys, projection="session_id, #s", names={"#s": "status"}, consistent=True)
        return {item["session_id"]: item["status"] for item in items}

    def page_by_user(self, user_id: str, limit: int, next_token: str | None) -> Page:
        """A user's sessions, oldest first, including those being deleted (deletion and export page through)."""
        return query_page(
            self.table,
            limit=limit,
            next_token=next_token,
            IndexName=BY_USER,
            KeyConditionExpression=Key("user_id").eq(user_id),
        )

    # ----- objects in the data bucket -----
    def put_raw(self, session: Session, content_hash: str) -> tuple[str, str | None]:
        """(key, S3 version id) of the stored session."""
        key = raw_key(session.session_id, content_hash)
        body = json.dumps(session.model_dump(mode="json"), ensure_ascii=False).encode("utf-8")
        response = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")
        return key, response.get("VersionId")

    def delete_raw(self, key: str, version_id: str | None) -> None:
        extra = {"VersionId": version_id} if version_id else {}
        self.s3.delete_object(Bucket=self.bucket, Key=key, **extra)

    def read_raw(self, key: str) -> Session:
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return Session.model_validate_json(body)

    def raw_json(self, key: str) -> Any:
        """The stored session exactly as kept (export)."""
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def put_summary_text(self, session_id: str, text: str) -> str:
        key = summary_key(session_id)
        self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=text.encode("utf-8"), ContentType="text/markdown; charset=utf-8"
        )
        return key

    def summary_text(self, key: str) -> str:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode("utf-8")

    def discard_summary_text(self, key: str) -> None:
        """Remove a summary text stored for a session that was deleted meanwhile (every version of it)."""
        delete_versions(self.s3, self.bucket, key, exact=True)

    def delete_objects(self, session_id: str) -> int:
        """Remove every version of the session's raw objects and summary text; returns how many went."""
        raw = delete_versions(self.s3, self.bucket, raw_prefix(session_id))
        return raw + delete_versions(self.s3, self.bucket, summary_key(session_id), exact=True)

    # ----- the session's life: RECEIVED -> SUMMARIZED, or FAILED and back -----
    def create(self, session: Session, content_hash: str, key: str) -> dict[str, Any] | None:
        """Write the RECEIVED item; None if the id already exists (the caller decides 200 or 409)."""
        item = received_item(session, content_hash, key, utc_now())
        created = conditionally(
            self.table.put_item, Item=to_dynamo(item), ConditionExpression=Attr("session_id").not_exists()
        )
        return item if created else None

    def remove_unqueued(self, session_id: str, content_hash: str) -> None:
        """Undo `create` when the session could not be queued, so nothing half-accepted remains."""
        conditionally(
            self.table.delete_item,
            Key={"session_id": session_id},
            ConditionExpression=Attr("content_hash").eq(content_hash) & Attr("status").eq(RECEIVED),
        )

    def reopen_failed(self, session_id: str) -> bool:
        """FAILED -> RECEIVED for a retry; False if the session is not FAILED."""
        return conditionally(
            self.table.update_item,
            Key={"session_id": session_id},
            UpdateExpression="SET #s = :received, updated_at = :now, attempts = :zero REMOVE #e, stop_reason",
            ConditionExpression=Attr("status").eq(FAILED),
            ExpressionAttributeNames=_STATUS_AND_ERROR,
            ExpressionAttributeValues={":received": RECEIVED, ":now": utc_now(), ":zero": 0},
        )

    def begin_attempt(self, session_id: str, content_hash: str, attempt: int) -> bool:
        """Show that delivery `attempt` of a RECEIVED session has begun (so a delivery that never ends is seen)."""
        return conditionally(
            self.table.update_item,
            Key={"session_id": session_id},
            UpdateExpression="SET attempts = :attempt, updated_at = :now",
            ConditionExpression=Attr("content_hash").eq(content_hash)
            & Attr("status").eq(RECEIVED)
            & Attr("attempts").lt(attempt),
            ExpressionAttributeValues={":attempt": attempt, ":now": utc_now()},
        )

    def fail_dead_lettered(self, session_id: str, content_hash: str, error: str, attempts: int) -> bool:
        """RECEIVED -> FAILED with `error` for a session whose message reached the dead-letter queue; False if a
        delivery recorded an outcome first (or the content changed)."""
        return conditionally(
            self.table.update_item,
            Key={"session_id": session_id},
            UpdateExpression="SET #s = :failed, #e = :error, attempts = :attempts, updated_at = :now",
            ConditionExpression=Attr("content_hash").eq(content_hash) & Attr("status").eq(RECEIVED),
            ExpressionAttributeNames=_STATUS_AND_ERROR,
            ExpressionAttributeValues={
                ":failed": FAILED,
                ":error": error[:MAX_ERROR_CHARS],
                ":attempts": attempts,
                ":now": utc_now(),
            },
        )

    def mark_failed(
        self, session_id: str, error: str, attempts: int, final: bool, stop_reason: str | None = None
    ) -> bool:
        """Record a failed attempt: FAILED when `final`, else still RECEIVED; `stop_reason` when the model answered
        with an unfinished summary. False (nothing written) for a summarized session or one being deleted."""
        values = {
            ":status": FAILED if final else RECEIVED,
            ":error": error[:MAX_ERROR_CHARS],
            ":attempts": attempts,
            ":now": utc_now(),
        }
        update = "SET #s = :status, #e = :error, attempts = :attempts, updated_at = :now"
        if stop_reason:
            update, values[":stop"] = update + ", stop_reason = :stop", stop_reason
        return conditionally(
            self.table.update_item,
            Key={"session_id": session_id},
            UpdateExpression=update if stop_reason else update + " REMOVE stop_reason",
            ConditionExpression=Attr("status").is_in([RECEIVED, FAILED]),
            ExpressionAttributeNames=_STATUS_AND_ERROR,
            ExpressionAttributeValues=values,
        )

    def mark_summarized(self, session_id: str, content_hash: str, summary: SummaryMade) -> bool:
        """Record the summary once; False if it was already recorded (a redelivery), the content changed or the
        session is gone or being deleted."""
        fields = summary.fields(utc_now())
        return conditionally(
            self.table.update_item,
            Key={"session_id": session_id},
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields) + " REMOVE #error",
            ConditionExpression=Attr("content_hash").eq(content_hash) & Attr("status").is_in([RECEIVED, FAILED]),
            ExpressionAttributeNames={**{f"#{k}": k for k in fields}, "#error": "error"},
            ExpressionAttributeValues={f":{k}": v for k, v in fields.items()},
        )

    def set_embedding_version(self, session_id: str, embedding_version: str) -> None:
        """Which embedding the summary has now (the edge reads it to find summaries to embed)."""
        self.table.update_item(
            Key={"session_id": session_id},
            UpdateExpression="SET embedding_version = :v",
            ConditionExpression=Attr("status").eq(SUMMARIZED),
            ExpressionAttributeValues={":v": embedding_version},
        )

    def mark_edge_job(self, session_id: str, mark: dict[str, Any] | None) -> bool:
        """Set (or with None remove) the edge's progress on a SUMMARIZED session; False when it is not SUMMARIZED."""
        update = "SET edge_job = :job" if mark else "REMOVE edge_job"
        values: dict[str, Any] = {":summarized": SUMMARIZED, **({":job": mark} if mark else {})}
        return conditionally(
            self.table.update_item,
            Key={"session_id": session_id},
            UpdateExpression=update,
            ConditionExpression="#s = :summarized",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=values,
        )

    def add_distill_key(self, session_id: str, key: dict[str, str]) -> None:
        """List a distillation's idempotency key on a SUMMARIZED session (functions.api.distill); a 404 ClientError
        when the session is not SUMMARIZED (deleted, or being deleted)."""
        if not conditionally(
            self.table.update_item,
            Key={"session_id": session_id},
            UpdateExpression="ADD distill_keys :key",
            ConditionExpression="#s = :summarized",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":key": {distill_key_text(key)}, ":summarized": SUMMARIZED},
        ):
            raise not_found(f"no summarized session {session_id}")

    def embedding_version_update(self, session_id: str, embedding_version: str) -> dict[str, Any]:
        """set_embedding_version as a TransactWriteItems entry (beside the vector it names)."""
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": {"session_id": session_id},
                "UpdateExpression": "SET embedding_version = :v",
                "ConditionExpression": "#s = :summarized",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":v": embedding_version, ":summarized": SUMMARIZED},
            }
        }

    def system_state_update(self, session_id: str, system: str, state: SystemState) -> dict[str, Any]:
        """The TransactWriteItems entry that records a system record's new version on the session item; it
        fails when the session is not SUMMARIZED (deleted, or being deleted)."""
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": {"session_id": session_id},
                "UpdateExpression": "SET systems.#system = :state, updated_at = :now",
                "ConditionExpression": "#s = :summarized",
                "ExpressionAttributeNames": {"#system": system, "#s": "status"},
                "ExpressionAttributeValues": {
                    ":state": state.model_dump(),
                    ":now": state.updated_at,
                    ":summarized": SUMMARIZED,
                },
            }
        }

    def translated_with(self, session_id: str, system: str, state: SystemState) -> bool:
        """Name `state`'s lineage as the one the edge last translated the system's record with, while the record is
        still at `state.version` (an upload that changed nothing, or a proposal beside a user's edit): the edge then
        sees the record as current. False when the record moved on or the session is not SUMMARIZED."""
        return conditionally(
            self.table.update_item,
            Key={"session_id": session_id},
            UpdateExpression="SET systems.#system = :state",
            ConditionExpression="#s = :summarized AND systems.#system.#version = :version",
            ExpressionAttributeNames={"#system": system, "#s": "status", "#version": "version"},
            ExpressionAttributeValues={
                ":state": state.model_dump(),
                ":summarized": SUMMARIZED,
                ":version": state.version,
            },
        )

    # ----- deletion: DELETING (hidden from reads), then gone -----
    def deleting_update(self, session_id: str, job_id: str | None, now: str) -> dict[str, Any]:
        """The TransactWriteItems entry (or UpdateItem request) that marks a session DELETING; it fails when the
        session does not exist or is already being deleted."""
        values: dict[str, Any] = {":deleting": DELETING, ":now": now}
        expression = "SET #s = :deleting, updated_at = :now, deletion_requested_at = :now"
        if job_id:
            expression += ", deletion_job = :job"
            values[":job"] = job_id
        return {
            "TableName": self.table_name,
            "Key": {"session_id": session_id},
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(session_id) AND #s <> :deleting",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": values,
        }

    def mark_deleting(self, session_id: str, now: str, job_id: str | None = None, counted: dict | None = None) -> bool:
        """Hide a session from every read until the purge removes it; False if missing or already DELETING.

        `counted`: a TransactWriteItems entry written with it (the deletion job's count of sessions found).
        """
        update = self.deleting_update(session_id, job_id, now)
        if counted is None:
            update.pop("TableName")
            return conditionally(self.table.update_item, **update)
        try:
            self.table.meta.client.transact_write_items(TransactItems=[{"Update": update}, counted])
        except BotoClientError as error:
            if cancellation_reasons(error) is None:
                raise
            return False
        return True

    def removal(self, session_id: str) -> dict[str, Any]:
        """The DeleteItem request (or TransactWriteItems entry) that removes a DELETING session's item."""
        return {
            "TableName": self.table_name,
            "Key": {"session_id": session_id},
            "ConditionExpression": "#s = :deleting",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":deleting": DELETING},
        }

    def remove_deleted(self, session_id: str, counted: dict | None = None) -> bool:
        """Delete a DELETING session's item (with `counted`, the job's count of deleted sessions, when its
        condition holds); False if it was already gone."""
        removal = self.removal(session_id)
        if counted is not None:
            try:
                self.table.meta.client.transact_write_items(TransactItems=[{"Delete": removal}, counted])
                return True
            except BotoClientError as error:
                reasons = cancellation_reasons(error)
                if reasons is None:
                    raise
                if reasons[:1] == ["ConditionalCheckFailed"]:
                    return False
        removal.pop("TableName")
        return conditionally(self.table.delete_item, **removal)

    # ----- Message Batches: claim, record, settle -----
    def claim_for_batch(self, session_id: str, content_hash: str, claim_id: str, now_s: int, expires_s: int) -> bool:
        """Reserve a RECEIVED session with no batch yet for one submitter; False if it is taken or not eligible.

        A claim left by a submitter that died expires at `expires_s` (epoch seconds) and can be taken again.
        """
        return conditionally(
            self.table.update_item,
            Key={"session_id": session_id},
            UpdateExpression="SET batch_claim = :claim, batch_claim_expires = :expires",
            ConditionExpression=(
                Attr("content_hash").eq(content_hash)
                & Attr("status").eq(RECEIVED)
                & Attr("batch_id").not_exists()
                & (Attr("batch_claim").not_exists() | Attr("batch_claim_expires").lt(now_s))
            ),
            ExpressionAttributeValues={":claim": claim_id, ":expires": expires_s},
        )

    def release_batch_claim(self, session_id: str, claim_id: str) -> None:
        conditionally(
            self.table.update_item,
            Key={"session_id": session_id},
            UpdateExpression="REMOVE batch_claim, batch_claim_expires",
            ConditionExpression=Attr("batch_claim").eq(claim_id),
        )

    def record_batch(self, session_id: str, claim_id: str, batch_id: str) -> bool:
        """Name the batch that holds this session's request (still RECEIVED); False if the claim was lost."""
        return conditionally(
            self.table.update_item,
            Key={"session_id": session_id},
            UpdateExpression="SET batch_id = :batch, batch_state = :pending, batch_submitted_at = :now, "
            "updated_at = :now REMOVE batch_claim, batch_claim_expires",
            ConditionExpression=Attr("batch_claim").eq(claim_id) & Attr("batch_id").not_exists(),
            ExpressionAttributeValues={":batch": batch_id, ":pending": BATCH_PENDING, ":now": utc_now()},
        )

    def pending_batch_ids(self) -> list[str]:
        """Distinct ids of batches that still hold unsettled sessions: one small Query per batch."""
        ids: list[str] = []
        while True:
            condition = Key("batch_state").eq(BATCH_PENDING)
            if ids:
                condition = condition & Key("batch_id").gt(ids[-1])
            page = self.table.query(IndexName=BY_PENDING_BATCH, KeyConditionExpression=condition, Limit=1)
            if not page.get("Items"):
                return ids
            ids.append(page["Items"][0]["batch_id"])

    def sessions_in_batch(self, batch_id: str) -> list[str]:
        """Ids of the sessions of a batch that are not settled yet (the index is eventually consistent)."""
        key = Key("batch_state").eq(BATCH_PENDING) & Key("batch_id").eq(batch_id)
        return [
            item["session_id"] for item in query_all(self.table, IndexName=BY_PENDING_BATCH, KeyConditionExpression=key)
        ]

    def settle_batch(self, session_id: str, batch_id: str) -> None:
        """Take a session out of the pending-batch index once its result is fully handled."""
        conditionally(
            self.table.update_item,
            Key={"session_id": session_id},
            UpdateExpression="REMOVE batch_state",
            ConditionExpression=Attr("batch_id").eq(batch_id),
        )

    def fail_batch_session(self, session_id: str, batch_id: str, error: str, stop_reason: str | None = None) -> bool:
        """FAILED with the batch's reason; the batch id moves to failed_batch_id so a retry can submit again."""
        return conditionally(
            self.table.update_item,
            Key={"session_id": session_id},
            UpdateExpression="SET #s = :failed, #e = :error, failed_batch_id = :batch, updated_at = :now, "
            "attempts = if_not_exists(attempts, :zero) + :one, stop_reason = :stop REMOVE batch_id, batch_state",
            ConditionExpression=Attr("batch_id").eq(batch_id) & Attr("status").eq(RECEIVED),
            ExpressionAttributeNames=_STATUS_AND_ERROR,
            ExpressionAttributeValues={
                ":failed": FAILED,
                ":error": error[:MAX_ERROR_CHARS],
                ":batch": batch_id,
                ":now": utc_now(),
                ":zero": 0,
                ":one": 1,
                ":stop": stop_reason,
            },
        )


def _and(key: Any, more: Any) -> Any:
    return key if more is None else key & more
