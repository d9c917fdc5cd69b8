"""The search index as one compact object in the data bucket: cached by ETag, replaced with conditional writes."""

from __future__ import annotations

import threading
from collections.abc import Callable

import boto3
from botocore.exceptions import ClientError as BotoClientError

from functions.search.index import SearchIndex
from functions.stores.versions import MAX_DELETE_KEYS, object_versions

INDEX_KEY = "search/index.npz"
MAX_WRITE_ATTEMPTS = 8


class IndexConflict(RuntimeError):
    """Another writer kept replacing the index; the caller's batch is retried."""


class IndexFile:
    def __init__(self, bucket: str, key: str = INDEX_KEY) -> None:
        self.s3, self.bucket, self.key = boto3.client("s3"), bucket, key
        self._cached: tuple[str, SearchIndex] | None = None
        self._lock = threading.Lock()

    def load(self) -> tuple[SearchIndex, str | None]:
        """The current index and its ETag (None when none was written yet); unchanged objects are not re-read."""
        with self._lock:
            cached = self._cached
        kwargs = {"Bucket": self.bucket, "Key": self.key}
        if cached:
            kwargs["IfNoneMatch"] = cached[0]
        try:
            response = self.s3.get_object(**kwargs)
        except BotoClientError as error:
            code = error.response["Error"]["Code"]
            if code in ("304", "NotModified") and cached:
                return cached[1], cached[0]
            if code in ("NoSuchKey", "404"):
                return SearchIndex.empty(), None
            raise
        index = SearchIndex.from_bytes(response["Body"].read())
        with self._lock:
            self._cached = (response["ETag"], index)
        return index, response["ETag"]

    def update(self, change: Callable[[SearchIndex], SearchIndex]) -> SearchIndex:
        """Apply `change` to the latest index and write it only if nobody wrote in between (retried on a race)."""
        for _ in range(MAX_WRITE_ATTEMPTS):
            index, etag = self.load()
            changed = change(index)
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            try:
                response = self.s3.put_object(
                    Bucket=self.bucket,
                    Key=self.key,
                    Body=changed.to_bytes(),
                    ContentType="application/octet-stream",
                    **condition,
                )
            except BotoClientError as error:
                if error.response["Error"]["Code"] in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                    continue
                raise
            with self._lock:
                self._cached = (response["ETag"], changed)
            return changed
        raise IndexConflict(f"s3://{self.bucket}/{self.key} changed under {MAX_WRITE_ATTEMPTS} attempts in a row")

    def drop_old_versions(self) -> int:
        """Delete every version of the index but the current one (older ones still hold deleted summaries)."""
        old = [
            {"Key": self.key, "VersionId": entry["VersionId"]}
            for entry in object_versions(self.s3, self.bucket, self.key, exact=True, with_latest=False)
        ]
        for start in range(0, len(old), MAX_DELETE_KEYS):
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": old[start : start + MAX_DELETE_KEYS]})
        return len(old)
