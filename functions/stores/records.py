"""The records and history tables: one JSON per summary and system, and its history of JSON Patches.

A new version is written all-or-nothing with its history entry and the session item's per-system state.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError as BotoClientError

from functions.clock import utc_now
from functions.errors import ClientError
from functions.stores.dynamo import query_all, table, to_dynamo
from functions.stores.paging import Page, query_page
from functions.stores.sessions import SessionStore
from schemas.contracts import Lineage, SystemState
from schemas.lineage import canonical_json

INLINE_LIMIT_BYTES = 100_000  # larger documents live in S3 with a pointer in the item
BY_SYSTEM = "by_system"
# Keys-only indexes that find the records one registry version made (a refresh selects by them).
BY_LINEAGE = {
    "translator_model_version": "by_model_version",
    "translator_prompt_version": "by_prompt_version",
    "schema_version": "by_schema_version",
}


def document_hash(document: Any) -> str:
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def record_key(summary_id: str, system: str) -> str:
    return f"{summary_id}#{system}"


def stale_version(message: str) -> ClientError:
    return ClientError("stale_version", message, status=409)


class RecordStore:
    def __init__(self, records_table: str, history_table: str, bucket: str, sessions: SessionStore) -> None:
        self.records, self.history = table(records_table), table(history_table)
        self.s3, self.bucket, self.sessions = boto3.client("s3"), bucket, sessions

    def for_summary(self, summary_id: str) -> list[dict[str, Any]]:
        """Every system's record of one summary (one per system, so one short Query)."""
        return self.records.query(KeyConditionExpression=Key("summary_id").eq(summary_id)).get("Items", [])

    def page_for_system(self, system: str, limit: int, next_token: str | None) -> Page:
        """Newest first."""
        return query_page(
            self.records,
            limit=limit,
            next_token=next_token,
            IndexName=BY_SYSTEM,
            ScanIndexForward=False,
            KeyConditionExpression=Key("system").eq(system),
        )

    def made_by(self, lineage_field: str, version_id: str) -> Iterator[tuple[str, str]]:
        """(summary_id, system) of every record whose `lineage_field` names `version_id`."""
        items = query_all(
            self.records, IndexName=BY_LINEAGE[lineage_field], KeyConditionExpression=Key(lineage_field).eq(version_id)
        )
        return ((item["summary_id"], item["system"]) for item in items)

    def get(self, summary_id: str, system: str) -> dict[str, Any] | None:
        return self.records.get_item(Key={"summary_id": summary_id, "system": system}, ConsistentRead=True).get("Item")

    def document(self, item: dict[str, Any]) -> Any:
        if "document_key" in item:
            return json.loads(self.s3.get_object(Bucket=self.bucket, Key=item["document_key"])["Body"].read())
        return json.loads(item["document"])

    def store_version(
        self,
        *,
        summary_id: str,
        system: str,
        expected_version: int,
        document: Any,
        patch: list[dict[str, Any]],
        lineage: Lineage,
        request_id: str | None,
    ) -> dict[str, Any]:
        """Write version expected_version+1 with its history entry and the session's per-system state.

        Raises a 409 ClientError (stale_version) when another writer got there first.
        """
        version, now, doc_hash = expected_version + 1, utc_now(), document_hash(document)
        text = canonical_json(document)
        item: dict[str, Any] = {
            "summary_id": summary_id,
            "system": system,
            "version": version,
            "document_hash": doc_hash,
            "updated_at": now,
            **lineage.model_dump(),
        }
        if len(text.encode("utf-8")) > INLINE_LIMIT_BYTES:
            item["document_key"] = f"records/{summary_id}/{system}/{version}.json"
            self.s3.put_object(
                Bucket=self.bucket, Key=item["document_key"], Body=text.encode("utf-8"), ContentType="application/json"
            )
        else:
            item["document"] = text
        condition = "attribute_not_exists(summary_id)" if expected_version == 0 else "version = :expected"
        values = {} if expected_version == 0 else {"ExpressionAttributeValues": {":expected": expected_version}}
        history = {
            "record_key": record_key(summary_id, system),
            "version": version,
            "created_at": now,
            "patch": json.dumps(patch),
            "document_hash": doc_hash,
            "request_id": request_id or "",
            **lineage.model_dump(),
        }
        state = SystemState(version=version, updated_at=now, document_hash=doc_hash, **lineage.model_dump())
        put_record = {
            "TableName": self.records.name,
            "Item": to_dynamo(item),
            "ConditionExpression": condition,
            **values,
        }
        put_history = {
            "TableName": self.history.name,
            "Item": to_dynamo(history),
            "ConditionExpression": "attribute_not_exists(record_key)",
        }
        try:  # the resource's client serializes plain Python values itself
            self.records.meta.client.transact_write_items(
                TransactItems=[
                    {"Put": put_record},
                    {"Put": put_history},
                    self.sessions.system_state_update(summary_id, system, state),
                ]
            )
        except BotoClientError as error:
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if error.response["Error"]["Code"] == "TransactionCanceledException" and reasons[:1] == [
                "ConditionalCheckFailed"
            ]:
                raise stale_version(f"{summary_id}/{system} is no longer at version {expected_version}") from error
            raise
        return item

    def history_page(self, summary_id: str, system: str, limit: int, next_token: str | None) -> Page:
        """Newest version first."""
        return query_page(
            self.history,
            limit=limit,
            next_token=next_token,
            ScanIndexForward=False,
            KeyConditionExpression=Key("record_key").eq(record_key(summary_id, system)),
        )
