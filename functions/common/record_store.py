"""System records (one JSON per summary and system), their history of JSON Patches, all-or-nothing."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError as BotoClientError

from functions.common.clock import utc_now
from functions.common.paging import query_page
from schemas.lineage import canonical_json

INLINE_LIMIT_BYTES = 100_000  # larger documents live in S3 with a pointer in the item


def document_hash(document: Any) -> str:
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def record_key(summary_id: str, system: str) -> str:
    return f"{summary_id}#{system}"


class StaleVersionError(Exception):
    pass


class RecordStore:
    def __init__(self, records_table: str, history_table: str, sessions_table: str, bucket: str) -> None:
        ddb = boto3.resource("dynamodb")
        self.records, self.history = ddb.Table(records_table), ddb.Table(history_table)
        self.names = {"records": records_table, "history": history_table, "sessions": sessions_table}
        self.client, self.s3, self.bucket = ddb.meta.client, boto3.client("s3"), bucket

    def for_summary(self, summary_id: str) -> list[dict[str, Any]]:
        """Every system's record of one summary (one per system, so one short Query)."""
        return self.records.query(KeyConditionExpression=Key("summary_id").eq(summary_id)).get("Items", [])

    def page_for_system(self, system: str, limit: int, next_token: str | None):
        return query_page(
            self.records,
            limit=limit,
            next_token=next_token,
            IndexName="by_system",
            ScanIndexForward=False,
            KeyConditionExpression=Key("system").eq(system),
        )

    def keys_for_version(self, index: str, attribute: str, version_id: str, limit: int, next_token: str | None):
        return query_page(
            self.records,
            limit=limit,
            next_token=next_token,
            IndexName=index,
            KeyConditionExpression=Key(attribute).eq(version_id),
        )

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
        patch: list[dict],
        lineage: dict[str, str],
        request_id: str | None,
    ) -> dict[str, Any]:
        """Write version expected_version+1 with its history entry and the summary's per-system state."""
        version, now, doc_hash = expected_version + 1, utc_now(), document_hash(document)
        text = canonical_json(document)
        item: dict[str, Any] = {
            "summary_id": summary_id,
            "system": system,
            "version": version,
            "document_hash": doc_hash,
            "updated_at": now,
            **lineage,
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
            **lineage,
        }
        state = {"version": version, "updated_at": now, "document_hash": doc_hash, **lineage}
        try:  # the resource's client serializes plain Python values itself
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.names["records"],
                            "Item": item,
                            "ConditionExpression": condition,
                            **values,
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.names["history"],
                            "Item": history,
                            "ConditionExpression": "attribute_not_exists(record_key)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.names["sessions"],
                            "Key": {"session_id": summary_id},
                            "UpdateExpression": "SET systems.#system = :state, updated_at = :now",
                            "ExpressionAttributeNames": {"#system": system},
                            "ExpressionAttributeValues": {":state": state, ":now": now},
                        }
                    },
                ]
            )
        except BotoClientError as error:
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if error.response["Error"]["Code"] == "TransactionCanceledException" and reasons[:1] == [
                "ConditionalCheckFailed"
            ]:
                raise StaleVersionError(f"{summary_id}/{system} is no longer at version {expected_version}") from error
            raise
        return item

    def history_page(self, summary_id: str, system: str, limit: int, next_token: str | None):
        return query_page(
            self.history,
            limit=limit,
            next_token=next_token,
            ScanIndexForward=False,
            KeyConditionExpression=Key("record_key").eq(record_key(summary_id, system)),
        )
