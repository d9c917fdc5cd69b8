"""Every trace the local stack keeps of a session, read straight from its storage (tests may scan; handlers never).

A trace is anything that would let a session's content or existence be read back: S3 object versions and delete
markers, table items, change-feed entries that carry a document, the search index (every version of its file) and
the summarizer's idempotency record.
"""

from __future__ import annotations

from collections.abc import Iterable

from functions.search.index import SearchIndex
from functions.stores.idempotency import SummaryIdempotency
from functions.stores.index_file import INDEX_KEY


def object_versions(stack, prefix: str) -> list[str]:
    """Keys of every version and delete marker under the prefix."""
    keys = []
    paginator = stack.client("s3").get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=stack.resolved("DataBucket"), Prefix=prefix):
        keys += [entry["Key"] for entry in page.get("Versions", []) + page.get("DeleteMarkers", [])]
    return keys


def _scan(stack, table: str) -> Iterable[dict]:
    paginator = stack.client("dynamodb").get_paginator("scan")
    for page in paginator.paginate(TableName=stack.resolved(table)):
        yield from page["Items"]


def indexed_ids(stack) -> set[str]:
    """Summary ids in any version of the search index file."""
    s3, bucket, ids = stack.client("s3"), stack.resolved("DataBucket"), set()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=INDEX_KEY):
        for version in page.get("Versions", []):
            body = s3.get_object(Bucket=bucket, Key=INDEX_KEY, VersionId=version["VersionId"])["Body"].read()
            ids |= set(SearchIndex.from_bytes(body).ids.tolist())
    return ids


def traces(stack, sessions: dict[str, str], user_ids: Iterable[str] = ()) -> dict[str, int]:
    """How many traces remain of these sessions (id -> content hash) and of these users' exports, by kind."""
    ids, users = set(sessions), set(user_ids)

    def owner(key: str) -> str:  # sessions/<id>/..., summaries/<id>.md, records/<id>/..., exports/<user>/...
        return key.split("/", 2)[1].removesuffix(".md") if key.count("/") >= 1 else ""

    found = {
        "session objects": sum(owner(k) in ids for k in object_versions(stack, "sessions/")),
        "summary objects": sum(owner(k) in ids for k in object_versions(stack, "summaries/")),
        "record objects": sum(owner(k) in ids for k in object_versions(stack, "records/")),
        "export objects": sum(owner(k) in users for k in object_versions(stack, "exports/")),
        "sessions": sum(1 for item in _scan(stack, "SessionsTable") if item["session_id"]["S"] in ids),
        "records": sum(1 for item in _scan(stack, "RecordsTable") if item["summary_id"]["S"] in ids),
        "history": sum(1 for item in _scan(stack, "HistoryTable") if item["record_key"]["S"].split("#", 1)[0] in ids),
        "feed documents": sum(
            1
            for item in _scan(stack, "ChangesTable")
            if item.get("summary_id", {}).get("S") in ids and ("document" in item or "document_key" in item)
        ),
        "embeddings": sum(1 for item in _scan(stack, "EmbeddingsTable") if item["summary_id"]["S"] in ids),
        "index": len(indexed_ids(stack) & ids),
    }
    layer = SummaryIdempotency(stack.resolved("IdempotencyTable")).layer
    wanted = {
        layer._get_hashed_idempotency_key({"session_id": sid, "content_hash": content_hash})
        for sid, content_hash in sessions.items()
    }
    found["idempotency"] = sum(1 for item in _scan(stack, "IdempotencyTable") if item["id"]["S"] in wanted)
    return found


def none_left(found: dict[str, int]) -> bool:
    return not any(found.values())
