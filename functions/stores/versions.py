"""Every version of objects in a versioned bucket: listed and removed for good (deletion), not just hidden.

In a versioned bucket DeleteObject without a version only adds a delete marker; the data stays. Removing data
means deleting each version (and each marker) by its VersionId (S3 User Guide, "Deleting object versions").
"""

from __future__ import annotations

from typing import Any

MAX_DELETE_KEYS = 1000  # DeleteObjects takes up to 1,000 keys


class VersionsNotDeleted(RuntimeError):
    """S3 refused some deletions; the caller's work is retried."""


def object_versions(
    s3: Any, bucket: str, prefix: str, exact: bool = False, with_latest: bool = True
) -> list[dict[str, str]]:
    """{Key, VersionId} of every version and delete marker under `prefix` (only the key itself when `exact`;
    without the current version of each key unless `with_latest`)."""
    found: list[dict[str, str]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            if (exact and entry["Key"] != prefix) or (entry.get("IsLatest") and not with_latest):
                continue
            found.append({"Key": entry["Key"], "VersionId": entry["VersionId"]})
    return found


def delete_versions(s3: Any, bucket: str, prefix: str, exact: bool = False) -> int:
    """Delete every version under `prefix` (or of the key `prefix` when `exact`); returns how many went."""
    versions = object_versions(s3, bucket, prefix, exact)
    for start in range(0, len(versions), MAX_DELETE_KEYS):
        chunk = versions[start : start + MAX_DELETE_KEYS]
        response = s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
        if response.get("Errors"):
            first = response["Errors"][0]
            raise VersionsNotDeleted(f"{len(response['Errors'])} versions not deleted, e.g. {first.get('Key')}")
    return len(versions)
