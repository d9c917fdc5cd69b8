"""Raw sessions in S3 and their status items in DynamoDB: the sessions table's one owner."""

from __future__ import annotations

import json
from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError as BotoClientError

from functions.common.clock import utc_now
from schemas.contracts import Session, SessionStatus


def raw_key(session_id: str, content_hash: str) -> str:
    # Content-addressed, so a conflicting POST can never overwrite what was accepted.
    return f"sessions/{session_id}/{content_hash}.json"


def summary_key(session_id: str) -> str:
    return f"summaries/{session_id}.md"


# Sessions waiting in a Message Batch carry batch_state=PENDING; the sparse index lists them by batch id.
PENDING_BATCH_INDEX = "by_pending_batch"
BATCH_PENDING = "PENDING"


def _is_condition_failure(error: BotoClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


class SessionStore:
    def __init__(self, table_name: str, bucket: str) -> None:
        self.table = boto3.resource("dynamodb").Table(table_name)
        self.s3 = boto3.client("s3")
        self.bucket = bucket

    def get(self, session_id: str) -> dict[str, Any] | None:
        return self.table.get_item(Key={"session_id": session_id}, ConsistentRead=True).get("Item")

    def put_raw(self, session: Session, content_hash: str) -> tuple[str, str | None]:
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

    def create(self, session: Session, content_hash: str, key: str) -> dict[str, Any] | None:
        """Write the RECEIVED item; None if the id already exists (the caller decides 200 or 409)."""
        now = utc_now()
        item = {
            "session_id": session.session_id,
            "source": session.source,
            "user_id": session.user_id,
            "status": SessionStatus.RECEIVED.value,
            "content_hash": content_hash,
            "received_at": now,
            "received_day": now[:10],
            "updated_at": now,
            "started_at": session.started_at.isoformat(),
            "raw_key": key,
            "attempts": 0,
            "turn_count": len(session.turns),
            "systems": {},
        }
        try:
            self.table.put_item(Item=item, ConditionExpression=Attr("session_id").not_exists())
        except BotoClientError as error:
            if _is_condition_failure(error):
                return None
            raise
        return item

    def remove_unqueued(self, session_id: str, content_hash: str) -> None:
        """Undo `create` when the session could not be queued, so nothing half-accepted remains."""
        try:
            self.table.delete_item(
                Key={"session_id": session_id},
                ConditionExpression=Attr("content_hash").eq(content_hash) & Attr("status").eq("RECEIVED"),
            )
        except BotoClientError as error:
            if not _is_condition_failure(error):
                raise

    def reopen_failed(self, session_id: str) -> bool:
        """FAILED -> RECEIVED for a retry; False if the session is not FAILED."""
        try:
            self.table.update_item(
                Key={"session_id": session_id},
                UpdateExpression="SET #s = :received, updated_at = :now, attempts = :zero REMOVE #e",
                ConditionExpression=Attr("status").eq("FAILED"),
                ExpressionAttributeNames={"#s": "status", "#e": "error"},
                ExpressionAttributeValues={":received": "RECEIVED", ":now": utc_now(), ":zero": 0},
            )
        except BotoClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def mark_failed(self, session_id: str, error: str, attempts: int, final: bool) -> None:
        status = "FAILED" if final else "RECEIVED"
        self.table.update_item(
            Key={"session_id": session_id},
            UpdateExpression="SET #s = :status, #e = :error, attempts = :attempts, updated_at = :now",
            ConditionExpression=Attr("status").ne("SUMMARIZED"),
            ExpressionAttributeNames={"#s": "status", "#e": "error"},
            ExpressionAttributeValues={
                ":status": status,
                ":error": error[:2000],
                ":attempts": attempts,
                ":now": utc_now(),
            },
        )

    def mark_summarized(self, session_id: str, content_hash: str, fields: dict[str, Any]) -> bool:
        """Record the summary once; False if it was already recorded (a redelivery)."""
        names = {f"#{k}": k for k in fields}
        values = {f":{k}": v for k, v in fields.items()}
        sets = ", ".join(f"#{k} = :{k}" for k in fields)
        try:
            self.table.update_item(
                Key={"session_id": session_id},
                UpdateExpression=f"SET {sets}, #status = :summarized, updated_at = :now REMOVE #error",
                ConditionExpression=Attr("content_hash").eq(content_hash) & Attr("status").ne("SUMMARIZED"),
                ExpressionAttributeNames={**names, "#status": "status", "#error": "error"},
                ExpressionAttributeValues={**values, ":summarized": "SUMMARIZED", ":now": utc_now()},
            )
        except BotoClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def set_embedding_version(self, session_id: str, embedding_version: str) -> None:
        """Which embedding the summary has now (the edge reads it to find summaries to embed)."""
        self.table.update_item(
            Key={"session_id": session_id},
            UpdateExpression="SET embedding_version = :v",
            ConditionExpression=Attr("status").eq("SUMMARIZED"),
            ExpressionAttributeValues={":v": embedding_version},
        )

    def put_summary_text(self, session_id: str, text: str) -> str:
        key = summary_key(session_id)
        self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=text.encode("utf-8"), ContentType="text/markdown; charset=utf-8"
        )
        return key

    def read_text(self, key: str) -> str:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode("utf-8")

    # ----- Message Batches: claim, record, settle -----
    def claim_for_batch(self, session_id: str, content_hash: str, claim_id: str, now_s: int, expires_s: int) -> bool:
        """Reserve a RECEIVED session with no batch yet for one submitter; False if it is taken or not eligible.

        A claim left by a submitter that died expires at `expires_s` (epoch seconds) and can be taken again.
        """
        try:
            self.table.update_item(
                Key={"session_id": session_id},
                UpdateExpression="SET batch_claim = :claim, batch_claim_expires = :expires",
                ConditionExpression=(
                    Attr("content_hash").eq(content_hash)
                    & Attr("status").eq("RECEIVED")
                    & Attr("batch_id").not_exists()
                    & (Attr("batch_claim").not_exists() | Attr("batch_claim_expires").lt(now_s))
                ),
                ExpressionAttributeValues={":claim": claim_id, ":expires": expires_s},
            )
        except BotoClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def release_batch_claim(self, session_id: str, claim_id: str) -> None:
        try:
            self.table.update_item(
                Key={"session_id": session_id},
                UpdateExpression="REMOVE batch_claim, batch_claim_expires",
                ConditionExpression=Attr("batch_claim").eq(claim_id),
            )
        except BotoClientError as error:
            if not _is_condition_failure(error):
                raise

    def record_batch(self, session_id: str, claim_id: str, batch_id: str) -> bool:
        """Name the batch that holds this session's request (still RECEIVED); False if the claim was lost."""
        try:
            self.table.update_item(
                Key={"session_id": session_id},
                UpdateExpression="SET batch_id = :batch, batch_state = :pending, batch_submitted_at = :now, "
                "updated_at = :now REMOVE batch_claim, batch_claim_expires",
                ConditionExpression=Attr("batch_claim").eq(claim_id) & Attr("batch_id").not_exists(),
                ExpressionAttributeValues={":batch": batch_id, ":pending": BATCH_PENDING, ":now": utc_now()},
            )
        except BotoClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def pending_batch_ids(self) -> list[str]:
        """Distinct ids of batches that still hold unsettled sessions: one small Query per batch."""
        ids: list[str] = []
        while True:
            condition = Key("batch_state").eq(BATCH_PENDING)
            if ids:
                condition = condition & Key("batch_id").gt(ids[-1])
            page = self.table.query(IndexName=PENDING_BATCH_INDEX, KeyConditionExpression=condition, Limit=1)
            if not page.get("Items"):
                return ids
            ids.append(page["Items"][0]["batch_id"])

    def sessions_in_batch(self, batch_id: str) -> list[str]:
        """Ids of the sessions of a batch that are not settled yet (the index is eventually consistent)."""
        ids: list[str] = []
        kwargs: dict[str, Any] = {
            "IndexName": PENDING_BATCH_INDEX,
            "KeyConditionExpression": Key("batch_state").eq(BATCH_PENDING) & Key("batch_id").eq(batch_id),
        }
        while True:
            page = self.table.query(**kwargs)
            ids += [item["session_id"] for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return ids
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def settle_batch(self, session_id: str, batch_id: str) -> None:
        """Take a session out of the pending-batch index once its result is fully handled."""
        try:
            self.table.update_item(
                Key={"session_id": session_id},
                UpdateExpression="REMOVE batch_state",
                ConditionExpression=Attr("batch_id").eq(batch_id),
            )
        except BotoClientError as error:
            if not _is_condition_failure(error):
                raise

    def fail_batch_session(self, session_id: str, batch_id: str, error: str) -> bool:
        """FAILED with the batch's reason; the batch id moves to failed_batch_id so a retry can submit again."""
        try:
            self.table.update_item(
                Key={"session_id": session_id},
                UpdateExpression="SET #s = :failed, #e = :error, failed_batch_id = :batch, updated_at = :now, "
                "attempts = if_not_exists(attempts, :zero) + :one REMOVE batch_id, batch_state",
                ConditionExpression=Attr("batch_id").eq(batch_id) & Attr("status").eq("RECEIVED"),
                ExpressionAttributeNames={"#s": "status", "#e": "error"},
                ExpressionAttributeValues={
                    ":failed": "FAILED",
                    ":error": error[:2000],
                    ":batch": batch_id,
                    ":now": utc_now(),
                    ":zero": 0,
                    ":one": 1,
                },
            )
        except BotoClientError as error_:
            if _is_condition_failure(error_):
                return False
            raise
        return True
