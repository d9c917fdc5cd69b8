"""The embeddings tables: one vector per summary (the edge's latest), and short-lived free-text query vectors.

Vectors are stored as float32 little-endian bytes.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from botocore.exceptions import ClientError as BotoClientError

from functions.stores.dynamo import batch_get, cancellation_reasons, table, to_dynamo

QUERY_TTL_SECONDS = 24 * 3600


def pack(vector: Sequence[float]) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def unpack(data: Any) -> np.ndarray:
    raw = data.value if hasattr(data, "value") else bytes(data)  # boto3 returns a Binary wrapper
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def query_id(text: str, embedding_version: str) -> str:
    """The same words (case and spacing aside) under the same model share one query embedding."""
    normalized = " ".join(text.lower().split())
    return "q-" + hashlib.sha256(f"{embedding_version}\n{normalized}".encode()).hexdigest()[:40]


class EmbeddingStore:
    """The embeddings table: summary_id -> (embedding_version, vector)."""

    def __init__(self, table_name: str) -> None:
        self.table, self.table_name = table(table_name), table_name

    def put(self, summary_id: str, embedding_version: str, vector: Sequence[float], created_at: str) -> None:
        self.table.put_item(
            Item=to_dynamo(
                {
                    "summary_id": summary_id,
                    "embedding_version": embedding_version,
                    "vector": pack(vector),
                    "dims": len(vector),
                    "created_at": created_at,
                }
            )
        )

    def put_for_summary(
        self, summary_id: str, embedding_version: str, vector: Sequence[float], created_at: str, session_update: dict
    ) -> bool:
        """Store the vector with the session's update (which requires it SUMMARIZED) as one transaction; False
        when the session is gone or being deleted."""
        item = {
            "summary_id": summary_id,
            "embedding_version": embedding_version,
            "vector": pack(vector),
            "dims": len(vector),
            "created_at": created_at,
        }
        try:
            self.table.meta.client.transact_write_items(
                TransactItems=[{"Put": {"TableName": self.table_name, "Item": to_dynamo(item)}}, session_update]
            )
        except BotoClientError as error:
            if (cancellation_reasons(error) or [])[1:2] == ["ConditionalCheckFailed"]:
                return False
            raise
        return True

    def delete(self, summary_id: str) -> None:
        self.table.delete_item(Key={"summary_id": summary_id})

    def many(self, summary_ids: Iterable[str]) -> list[tuple[str, str, np.ndarray]]:
        """(summary_id, version, vector) for the ids that have one."""
        keys = [{"summary_id": summary_id} for summary_id in sorted(set(summary_ids))]
        return [
            (item["summary_id"], item["embedding_version"], unpack(item["vector"]))
            for item in batch_get(self.table, keys)
        ]


class QueryEmbeddingStore:
    """The query embeddings table: query_id -> vector, kept a day."""

    def __init__(self, table_name: str) -> None:
        self.table = table(table_name)

    def put(self, query_key: str, embedding_version: str, vector: Sequence[float]) -> None:
        self.table.put_item(
            Item=to_dynamo(
                {
                    "query_id": query_key,
                    "embedding_version": embedding_version,
                    "vector": pack(vector),
                    "expires_at": int(time.time()) + QUERY_TTL_SECONDS,
                }
            )
        )

    def get(self, query_key: str) -> np.ndarray | None:
        item = self.table.get_item(Key={"query_id": query_key}, ConsistentRead=True).get("Item")
        return unpack(item["vector"]) if item else None
