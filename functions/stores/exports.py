"""Export archives in the data bucket (exports/<user_id>/...): written once, fetched through presigned links,
removed with the user's data. The bucket's lifecycle rule expires them after a day."""

from __future__ import annotations

import secrets
from typing import IO, Any

import boto3

from functions.stores.versions import delete_versions

PREFIX = "exports/"


def user_prefix(user_id: str) -> str:
    return f"{PREFIX}{user_id}/"


class ExportArchives:
    def __init__(self, bucket: str) -> None:
        self.s3: Any = boto3.client("s3")
        self.bucket = bucket

    def put(self, user_id: str, stamp: str, body: IO[bytes]) -> str:
        """Store an archive (gzip'd JSON Lines) and return its key."""
        key = f"{user_prefix(user_id)}{stamp}-{secrets.token_hex(4)}.jsonl.gz"
        self.s3.upload_fileobj(
            body,
            self.bucket,
            key,
            ExtraArgs={
                "ContentType": "application/gzip",
                "ContentDisposition": f'attachment; filename="{user_id}-{stamp}.jsonl.gz"',
            },
        )
        return key

    def link(self, key: str, expires_s: int) -> str:
        """A presigned GET URL for the archive (SigV4, valid for `expires_s` seconds)."""
        return str(
            self.s3.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_s
            )
        )

    def delete_for_user(self, user_id: str) -> int:
        """Remove every version of the user's archives; returns how many went."""
        return delete_versions(self.s3, self.bucket, user_prefix(user_id))
