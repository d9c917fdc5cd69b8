"""Exporting a user's data: one gzip'd JSON Lines archive in the data bucket, answered with a presigned link.

Lines, in order: an `export` header, then per session its `session` (the session as it was received), its
`summary` (once made) and per system its `record` (current document, lineage, author, any proposal) and every
`history` entry (RFC 6902 patch, author, lineage); an `end` line with the counts closes the archive.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.errors import not_found
from functions.stores.dynamo import plain
from functions.stores.exports import ExportArchives
from functions.stores.records import RecordStore
from functions.stores.sessions import DELETING, SessionStore
from schemas.contracts import ADAPTER_FIELD, LINEAGE_FIELDS
from schemas.user_data import ExportLink

FORMAT = "session-summary-pipeline/export/1"
LINK_SECONDS = 15 * 60
PAGE = 100
READERS = 8  # sessions read in parallel (S3 and DynamoDB round trips dominate)
SPOOL_BYTES = 8 * 1024 * 1024  # archives larger than this are spooled to /tmp
SUMMARY_FIELDS = (
    "status",
    "summarizer_model_version",
    "summarizer_prompt_version",
    "summarized_at",
    "usage",
    "cost_usd",
    "latency_ms",
    "stop_reason",
)


def _lineage(item: dict[str, Any]) -> dict[str, Any]:
    return {name: item[name] for name in (*LINEAGE_FIELDS, ADAPTER_FIELD) if name in item}


class Exporter:
    def __init__(self, sessions: SessionStore, records: RecordStore, archives: ExportArchives) -> None:
        self.sessions, self.records, self.archives = sessions, records, archives

    def export(self, user_id: str) -> ExportLink:
        """Write the archive and link to it; 404 when the user has no sessions (none are being deleted)."""
        items = [item for item in self._sessions(user_id) if item.get("status") != DELETING]
        if not items:
            raise not_found(f"user {user_id} has no sessions")
        now = datetime.now(UTC)
        counts: Counter[str] = Counter()
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            with gzip.GzipFile(fileobj=spool, mode="wb", mtime=0) as archive:
                write = self._writer(archive)
                write({"type": "export", "format": FORMAT, "user_id": user_id, "created_at": now.isoformat()})
                with ThreadPoolExecutor(READERS) as pool:
                    for lines in pool.map(self._session_lines, items):
                        for line in lines:
                            write(line)
                            counts[line["type"]] += 1
                totals = {"sessions": counts["session"], "records": counts["record"], "history": counts["history"]}
                write({"type": "end", **totals})
            size = spool.tell()
            spool.seek(0)
            key = self.archives.put(user_id, now.strftime("%Y%m%dT%H%M%SZ"), spool)
        expires = now + timedelta(seconds=LINK_SECONDS)
        return ExportLink(
            user_id=user_id,
            url=self.archives.link(key, LINK_SECONDS),
            expires_at=expires.isoformat(timespec="seconds").replace("+00:00", "Z"),
            key=key,
            bytes=size,
            **totals,
        )

    def _sessions(self, user_id: str) -> Iterator[dict[str, Any]]:
        token = None
        while True:
            items, token = self.sessions.page_by_user(user_id, PAGE, token)
            yield from items
            if not token:
                return

    @staticmethod
    def _writer(archive: gzip.GzipFile) -> Callable[[dict[str, Any]], None]:
        def write(line: dict[str, Any]) -> None:
            archive.write(json.dumps(plain(line), ensure_ascii=False, default=str).encode("utf-8") + b"\n")

        return write

    def _session_lines(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        session_id = item["session_id"]
        lines: list[dict[str, Any]] = [
            {
                "type": "session",
                "session_id": session_id,
                "content_hash": item["content_hash"],
                "received_at": item["received_at"],
                "session": self.sessions.raw_json(item["raw_key"]),
            }
        ]
        if item.get("summary_key"):
            summary = {name: item[name] for name in SUMMARY_FIELDS if name in item}
            text = self.sessions.summary_text(item["summary_key"])
            lines.append({"type": "summary", "summary_id": session_id, "text": text, **summary})
        for record in self.records.for_summary(session_id):
            system = record["system"]
            line = {
                "type": "record",
                "summary_id": session_id,
                "system": system,
                "version": record["version"],
                "author": record.get("author", "edge"),
                "updated_at": record["updated_at"],
                "lineage": _lineage(record),
                "document": self.records.document(record),
            }
            if "proposal" in record:
                proposal = record["proposal"]
                line["proposal"] = {
                    "lineage": proposal["lineage"],
                    "proposed_at": proposal["proposed_at"],
                    "document": self.records.proposal_document(proposal),
                }
            lines.append(line)
            lines += [
                {
                    "type": "history",
                    "summary_id": session_id,
                    "system": system,
                    "version": entry["version"],
                    "author": entry.get("author", "edge"),
                    "created_at": entry["created_at"],
                    "request_id": entry.get("request_id") or None,
                    "lineage": _lineage(entry),
                    "patch": json.loads(entry["patch"]),
                }
                for entry in self.records.history_items(session_id, system)
            ]
        return lines
