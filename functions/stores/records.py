"""The records and history tables: one JSON per summary and system, and its history of JSON Patches.

A new version is written all-or-nothing with its history entry, the session item's per-system state and its
entry in the system's change feed (functions.stores.changes); so is a record's deletion with its "deleted" entry.
A document or patch over INLINE_LIMIT_BYTES is put in S3 first (the items point to it) and removed again when
the transaction is refused.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from boto3.dynamodb.conditions import Key
from botocore.exceptions import BotoCoreError
from botocore.exceptions import ClientError as BotoClientError

from functions.clock import utc_now
from functions.errors import ClientError, not_found
from functions.stores.changes import ChangeLog
from functions.stores.dynamo import (
    batch_delete,
    cancellation_reasons,
    check_item_size,
    conditionally,
    query_all,
    table,
    to_dynamo,
)
from functions.stores.paging import Page, encode_token, query_page
from functions.stores.sessions import SessionStore
from functions.stores.versions import delete_versions
from schemas.changes import Author
from schemas.contracts import Lineage, SystemState
from schemas.lineage import canonical_json

INLINE_LIMIT_BYTES = 100_000  # larger documents and patches live in S3 with a pointer in the item
PAGE_PATCH_BYTES = 4 * 1024 * 1024  # a history page stops early past this much patch text (a Lambda answers 6 MB)
MAX_APPEND_ATTEMPTS = 50  # writers of one system racing for the next change number
SESSION_WRITE = 2  # a version's transaction: the record, its history entry, then the session's per-system state
BY_SYSTEM = "by_system"
# Keys-only indexes that find the records one registry version made (a refresh selects by them).
BY_LINEAGE = {
    "translator_model_version": "by_model_version",
    "translator_prompt_version": "by_prompt_version",
    "schema_version": "by_schema_version",
}


logger = Logger(child=True)


def document_hash(document: Any) -> str:
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def record_key(summary_id: str, system: str) -> str:
    return f"{summary_id}#{system}"


def document_prefix(summary_id: str) -> str:
    """Where a summary's large record documents, patches and proposals live in the data bucket."""
    return f"records/{summary_id}/"


def document_key(summary_id: str, system: str, version: int) -> str:
    return f"{document_prefix(summary_id)}{system}/{version}.json"


def patch_key(summary_id: str, system: str, version: int) -> str:
    """Where a version's large patch (from the previous version) lives, beside its documents."""
    return f"{document_prefix(summary_id)}{system}/{version}.patch.json"


def refused(error: ClientError | BotoClientError) -> bool:
    """True when a write was answered with a refusal, so nothing was stored: this module's ClientErrors (decided
    from a cancelled transaction) and DynamoDB's 4xx. A 5xx may follow a commit, so it is not a refusal."""
    if isinstance(error, ClientError):
        return True
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
    return 400 <= int(status) < 500


def patch_page(items: list[dict[str, Any]], token: str | None, with_patch: Callable[[dict], dict]) -> Page:
    """History items with their patches (`with_patch`), cut short once their patch text passes PAGE_PATCH_BYTES
    (one item at least); the token then resumes after the last item kept."""
    shown: list[dict[str, Any]] = []
    size = 0
    for item in items:
        full = with_patch(item)
        size += len(full["patch"].encode("utf-8"))
        if shown and size > PAGE_PATCH_BYTES:
            return shown, encode_token({k: shown[-1][k] for k in ("record_key", "version")})
        shown.append(full)
    return shown, token


def stale_version(message: str) -> ClientError:
    return ClientError("stale_version", message, status=409)


class RecordStore:
    def __init__(
        self, records_table: str, history_table: str, bucket: str, sessions: SessionStore, changes: ChangeLog
    ) -> None:
        self.records, self.history = table(records_table), table(history_table)
        self.s3, self.bucket, self.sessions, self.changes = boto3.client("s3"), bucket, sessions, changes

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
        """The JSON of a record item, a history-less change entry or a proposal (inline, or read from S3)."""
        if "document_key" in item:
            return self._object_json(item["document_key"])
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
        author: Author = "edge",
        author_name: str = "",
        keep: dict[str, Any] | None = None,
        translate_ms: int | None = None,
        translated_with: Lineage | None = None,
    ) -> dict[str, Any]:
        """Write version expected_version+1 with its history entry, the session's per-system state and its change.

        `keep`: attributes of the current item to carry over (a proposal waiting beside a user's edit);
        `translate_ms`: how long the edge took to translate the document, when it says; `translated_with`: the
        lineage the session's state keeps naming (a user's edit leaves the edge's last translation as it was).
        A document or patch over INLINE_LIMIT_BYTES goes to S3 (document_key, patch_key) and is deleted again
        when the write is refused. Raises a 409 ClientError (stale_version) when another writer got there first,
        a 404 when the session is not SUMMARIZED (deleted, or being deleted), and a 413 (content_too_large) when
        an item would still exceed MAX_ITEM_BYTES (nothing is written then).
        """
        version, now, doc_hash = expected_version + 1, utc_now(), document_hash(document)
        text, patch_text = canonical_json(document), json.dumps(patch)
        offloaded: dict[str, bytes] = {}  # S3 key -> JSON, put before the transaction
        item: dict[str, Any] = {
            "summary_id": summary_id,
            "system": system,
            "version": version,
            "document_hash": doc_hash,
            "updated_at": now,
            "author": author,
            "author_name": author_name,
            **lineage.model_dump(),
            **(keep or {}),
            **({"translate_ms": translate_ms} if translate_ms is not None else {}),
        }
        if len(text.encode("utf-8")) > INLINE_LIMIT_BYTES:
            item["document_key"] = document_key(summary_id, system, version)
            offloaded[item["document_key"]] = text.encode("utf-8")
        else:
            item["document"] = text
        condition = "attribute_not_exists(summary_id)" if expected_version == 0 else "version = :expected"
        values = {} if expected_version == 0 else {"ExpressionAttributeValues": {":expected": expected_version}}
        history = {
            "record_key": record_key(summary_id, system),
            "version": version,
            "created_at": now,
            "document_hash": doc_hash,
            "request_id": request_id or "",
            "author": author,
            "author_name": author_name,
            **lineage.model_dump(),
        }
        if len(patch_text.encode("utf-8")) > INLINE_LIMIT_BYTES:
            history["patch_key"] = patch_key(summary_id, system, version)
            offloaded[history["patch_key"]] = patch_text.encode("utf-8")
        else:
            history["patch"] = patch_text
        state = SystemState(
            version=version, updated_at=now, document_hash=doc_hash, **(translated_with or lineage).model_dump()
        )
        change: dict[str, Any] = {
            "summary_id": summary_id,
            "change": "created" if expected_version == 0 else "updated",
            "version": version,
            "changed_at": now,
            "author": author,
            "document_hash": doc_hash,
            **lineage.model_dump(),
            **{k: item[k] for k in ("document", "document_key") if k in item},
        }

        def writes(seq: int) -> list[dict[str, Any]]:
            history["seq"] = seq
            return [
                {
                    "Put": {
                        "TableName": self.records.name,
                        "Item": to_dynamo(item),
                        "ConditionExpression": condition,
                        **values,
                    }
                },
                {
                    "Put": {
                        "TableName": self.history.name,
                        "Item": to_dynamo(history),
                        "ConditionExpression": "attribute_not_exists(record_key)",
                    }
                },
                self.sessions.system_state_update(summary_id, system, state),
            ]

        where = f"{summary_id}/{system} version {version}"
        for what, written in (("record", item), ("history entry", {**history, "seq": 0}), ("change entry", change)):
            check_item_size(f"the {what} of {where}", to_dynamo(written))
        objects = self._put_objects(offloaded)
        try:
            self._write_with_change(
                system, change, writes, f"{summary_id}/{system} is no longer at version {expected_version}"
            )
        except (ClientError, BotoClientError) as error:
            if refused(error):
                self._delete_objects(objects)
            raise
        return item

    def _put_objects(self, bodies: dict[str, bytes]) -> list[dict[str, str]]:
        """Put each JSON body at its key; the {Key, VersionId} of each version made (no VersionId when the bucket
        is not versioned). When one put fails, the versions made are deleted and the error raised."""
        made: list[dict[str, str]] = []
        try:
            for key, body in bodies.items():
                put = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")
                made.append({"Key": key, **({"VersionId": put["VersionId"]} if put.get("VersionId") else {})})
        except (BotoClientError, BotoCoreError):
            self._delete_objects(made)
            raise
        return made

    def _delete_objects(self, objects: list[dict[str, str]]) -> None:
        """Delete exactly these object versions (another writer's version of the same key stays); a failure is
        logged, not raised, so the caller's error is the one reported."""
        if not objects:
            return
        try:
            response = self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
            errors = response.get("Errors", [])
        except (BotoClientError, BotoCoreError) as error:
            errors = [{"Message": str(error)}]
        if errors:
            logger.warning("objects of a refused version left in S3", objects=objects, errors=errors)

    def remove(self, item: dict[str, Any]) -> bool:
        """Delete a record (its session is being deleted) and append its "deleted" change; False if it was gone."""
        summary_id, system, version = item["summary_id"], item["system"], int(item["version"])
        change = {
            "summary_id": summary_id,
            "change": "deleted",
            "version": version,
            "changed_at": utc_now(),
            "author": "user",
        }

        def writes(seq: int) -> list[dict[str, Any]]:
            return [
                {
                    "Delete": {
                        "TableName": self.records.name,
                        "Key": {"summary_id": summary_id, "system": system},
                        "ConditionExpression": "version = :version",
                        "ExpressionAttributeValues": {":version": version},
                    }
                }
            ]

        try:
            self._write_with_change(system, change, writes, f"{summary_id}/{system} changed while being deleted")
        except ClientError as error:
            if error.code == "stale_version" and self.get(summary_id, system) is None:
                return False
            raise
        return True

    def _write_with_change(
        self, system: str, change: dict[str, Any], writes: Callable[[int], list[dict[str, Any]]], stale: str
    ) -> None:
        """Run `writes` and the change's entry as one transaction, taking the next number of the system's feed."""
        for attempt in range(MAX_APPEND_ATTEMPTS):
            last = self.changes.last_seq(system)
            items = writes(last + 1)
            try:  # the resource's client serializes plain Python values itself
                self.records.meta.client.transact_write_items(
                    TransactItems=[*items, *self.changes.append(system, last, change)]
                )
                return
            except BotoClientError as error:
                reasons = cancellation_reasons(error)
                if reasons is None:
                    raise
                refused = [i for i, reason in enumerate(reasons[: len(items)]) if reason == "ConditionalCheckFailed"]
                if refused and refused[0] < SESSION_WRITE:
                    raise stale_version(stale) from error
                if refused:
                    raise not_found(f"no summarized session {change['summary_id']}") from error
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # another writer took the number
        raise ClientError("busy", f"the {system} change feed is busy; try again", status=503)

    def history_items(self, summary_id: str, system: str, patches: bool = True) -> list[dict[str, Any]]:
        """Every version's history entry, oldest first (deletion and export), each with its "patch" (JSON text,
        read from S3 when it was stored there); with patches=False as stored (a large patch named by "patch_key")."""
        key = Key("record_key").eq(record_key(summary_id, system))
        items = query_all(self.history, KeyConditionExpression=key, ConsistentRead=True)
        return [self._with_patch(item) for item in items] if patches else list(items)

    def _with_patch(self, item: dict[str, Any]) -> dict[str, Any]:
        """A history item with "patch" inline, as if it had always been (its "patch_key" replaced)."""
        if "patch_key" not in item:
            return item
        body = self.s3.get_object(Bucket=self.bucket, Key=item["patch_key"])["Body"].read().decode("utf-8")
        return {**{k: v for k, v in item.items() if k != "patch_key"}, "patch": body}

    def delete_documents(self, summary_id: str) -> int:
        """Every version of the summary's large documents and proposals in S3."""
        return delete_versions(self.s3, self.bucket, document_prefix(summary_id))

    def forget_history(self, summary_id: str, system: str, versions: list[int]) -> None:
        batch_delete(self.history, [{"record_key": record_key(summary_id, system), "version": v} for v in versions])

    # ----- a model output waiting beside a user's edit -----
    def set_proposal(self, summary_id: str, system: str, version: int, proposal: dict[str, Any]) -> bool:
        """Keep `proposal` beside version `version` (which a user wrote); False if the record moved on."""
        return conditionally(
            self.records.update_item,
            Key={"summary_id": summary_id, "system": system},
            UpdateExpression="SET proposal = :proposal",
            ConditionExpression="version = :version AND author = :user",
            ExpressionAttributeValues={":proposal": proposal, ":version": version, ":user": "user"},
        )

    def clear_proposal(self, summary_id: str, system: str, version: int) -> bool:
        """Dismiss the proposal beside version `version`; False if there is none or the record moved on."""
        return conditionally(
            self.records.update_item,
            Key={"summary_id": summary_id, "system": system},
            UpdateExpression="REMOVE proposal",
            ConditionExpression="version = :version AND attribute_exists(proposal)",
            ExpressionAttributeValues={":version": version},
        )

    def proposal_document(self, proposal: dict[str, Any]) -> Any:
        if "document_key" in proposal:
            return self._object_json(proposal["document_key"])
        return json.loads(proposal["document"])

    def put_proposal_document(self, summary_id: str, system: str, document: Any) -> dict[str, Any]:
        """The proposal's document as the item keeps it: inline, or in S3 when large."""
        text = canonical_json(document)
        if len(text.encode("utf-8")) <= INLINE_LIMIT_BYTES:
            return {"document": text}
        key = f"{document_prefix(summary_id)}{system}/proposal-{document_hash(document)}.json"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"), ContentType="application/json")
        return {"document_key": key}

    def _object_json(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def history_page(self, summary_id: str, system: str, limit: int, next_token: str | None) -> Page:
        """Newest version first, each with its "patch" (as history_items); fewer than `limit` when the patches are
        large (patch_page)."""
        items, token = query_page(
            self.history,
            limit=limit,
            next_token=next_token,
            ScanIndexForward=False,
            KeyConditionExpression=Key("record_key").eq(record_key(summary_id, system)),
        )
        return patch_page(items, token, self._with_patch)
