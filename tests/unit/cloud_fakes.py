"""In-memory stand-ins for the cloud functions' stores, queues and summarizer (the unit tier's ports).

Each fake keeps the semantics its service relies on: conditional writes refuse the way DynamoDB does (a
method that returns False returns False here; one that raises raises botocore's ConditionalCheckFailed),
pages carry opaque `next` tokens made by the real codec, numbers come back as Decimal, and items are copies.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from botocore.exceptions import ClientError as BotoClientError

from functions.clock import utc_now
from functions.errors import ClientError, not_found
from functions.search.index import SearchIndex
from functions.stores.dynamo import check_item_size, plain, to_dynamo
from functions.stores.embeddings import pack, unpack
from functions.stores.paging import decode_token, encode_token
from functions.stores.records import (
    INLINE_LIMIT_BYTES,
    document_hash,
    document_key,
    document_prefix,
    patch_key,
    patch_page,
    stale_version,
)
from functions.stores.registry import RegistryStore
from functions.stores.sessions import (
    BATCH_PENDING,
    DELETING,
    FAILED,
    MAX_ERROR_CHARS,
    RECEIVED,
    SUMMARIZED,
    SessionFilters,
    SummaryMade,
    distill_key_text,
    raw_key,
    raw_prefix,
    received_item,
    summary_key,
)
from functions.stores.tokens import TokenGrant, check_grant, grant_from_item, hash_token, new_token
from functions.summarize.summarizer import BatchOutcome, BatchStatus, SummarizerError, SummaryResult
from schemas.contracts import (
    Lineage,
    QueryEmbeddingRequest,
    Session,
    SummarizeRequest,
    SummaryRecord,
    SystemState,
    TokenUsage,
    TranslateRequest,
    session_day,
)
from schemas.lineage import canonical_json
from schemas.user_data import DeletionRequest


def condition_failed(operation: str = "UpdateItem") -> BotoClientError:
    return BotoClientError(
        {"Error": {"Code": "ConditionalCheckFailedException", "Message": "The conditional request failed"}},
        operation,
    )


def dynamo(value: Any) -> Any:
    """A value as DynamoDB gives it back: numbers (not bools) as Decimal, nested too, through the stores' own codec
    (so a number DynamoDB cannot hold is refused here too)."""
    return to_dynamo(value)


def page(items: list[dict[str, Any]], key: Sequence[str], limit: int, next_token: str | None):
    """One page of `items` (already in query order) after the key the token names, as query_page pages."""
    start = 0
    if next_token:
        after = decode_token(next_token)
        positions = [i for i, item in enumerate(items) if {k: item[k] for k in key} == after]
        if not positions:
            raise ClientError("invalid_next_token", "the `next` token is not one this API issued")
        start = positions[0] + 1
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    token = encode_token({k: chunk[-1][k] for k in key}) if more and chunk else None
    return [copy.deepcopy(item) for item in chunk], token


REMOVE = object()  # an attribute value that removes the attribute


# ----- stores -----
class FakeSessionStore:
    table_name = "Sessions"

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.objects: dict[str, bytes] = {}
        self.fail_next_create = False

    def record(self, session_id: str) -> SummaryRecord:
        """The stored item read as the contract that describes it (raises if it does not)."""
        return SummaryRecord.model_validate(self.items[session_id])

    # reads
    def get(self, session_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.items.get(session_id))

    def summarized(self, session_id: str) -> dict[str, Any]:
        item = self.get(session_id)
        if not item or item.get("status") != SUMMARIZED:
            raise not_found(f"no summarized session {session_id}")
        return item

    def _listed(self, keep: Callable[[dict[str, Any]], bool], newest: bool):
        items = [item for item in self.items.values() if keep(item)]
        return sorted(items, key=lambda item: (item["started_at"], item["session_id"]), reverse=newest)

    def page(self, filters: SessionFilters, limit, next_token):
        def keep(item: dict[str, Any]) -> bool:
            day = session_day(item["started_at"])
            return item["status"] != DELETING and (
                all(
                    not wanted or item[name] == wanted
                    for name, wanted in (
                        ("status", filters.status),
                        ("source", filters.source),
                        ("user_id", filters.user_id),
                    )
                )
                and (not filters.day_from or day >= filters.day_from)
                and (not filters.day_to or day <= filters.day_to)
            )

        index_key = "user_id" if filters.user_id else "source" if filters.source else "status"
        return page(self._listed(keep, newest=True), ("session_id", index_key, "started_at"), limit, next_token)

    def page_by_user(self, user_id: str, limit, next_token):
        items = self._listed(lambda item: item["user_id"] == user_id, newest=False)
        return page(items, ("session_id", "user_id", "started_at"), limit, next_token)

    def statuses(self, session_ids: set[str]) -> dict[str, str]:
        return {i: self.items[i]["status"] for i in session_ids if i in self.items}

    def summarized_page(self, limit, next_token):
        items = self._listed(lambda item: item["status"] == SUMMARIZED, newest=False)
        return page(items, ("session_id", "status", "started_at"), limit, next_token)

    def summarized_ids(self) -> Iterator[str]:
        return iter([item["session_id"] for item in self._listed(lambda i: i["status"] == SUMMARIZED, False)])

    def received_times(self, session_ids: set[str]) -> dict[str, str]:
        live = (i for i in session_ids if i in self.items and self.items[i]["status"] != DELETING)
        return {i: self.items[i]["received_at"] for i in live}

    def search_facts(self, session_ids: set[str]) -> dict[str, dict[str, Any]]:
        fields = ("session_id", "received_at", "user_id", "status", "summary_key")
        live = (i for i in session_ids if i in self.items and self.items[i]["status"] != DELETING)
        return {i: {f: self.items[i][f] for f in fields if f in self.items[i]} for i in live}

    # objects
    def put_raw(self, session: Session, content_hash: str) -> tuple[str, str | None]:
        key = raw_key(session.session_id, content_hash)
        self.objects[key] = json.dumps(session.model_dump(mode="json")).encode()
        return key, f"v-{len(self.objects)}"

    def delete_raw(self, key: str, version_id: str | None) -> None:
        self.objects.pop(key, None)

    def read_raw(self, key: str) -> Session:
        return Session.model_validate_json(self.objects[key])

    def raw_json(self, key: str) -> Any:
        return json.loads(self.objects[key])

    def put_summary_text(self, session_id: str, text: str) -> str:
        self.objects[summary_key(session_id)] = text.encode()
        return summary_key(session_id)

    def summary_text(self, key: str) -> str:
        return self.objects[key].decode()

    def discard_summary_text(self, key: str) -> None:
        self.objects.pop(key, None)

    def delete_objects(self, session_id: str) -> int:
        gone = [k for k in self.objects if k.startswith(raw_prefix(session_id)) or k == summary_key(session_id)]
        for key in gone:
            del self.objects[key]
        return len(gone)

    # writes
    def create(self, session: Session, content_hash: str, key: str) -> dict[str, Any] | None:
        if self.fail_next_create:
            self.fail_next_create = False
            raise RuntimeError("injected: PutItem failed")
        if session.session_id in self.items:
            return None
        item = received_item(session, content_hash, key, utc_now())
        self.items[session.session_id] = dynamo(item)
        return copy.deepcopy(item)

    def _update(self, session_id: str, condition: Callable[[dict[str, Any]], bool], **changes: Any) -> bool:
        item = self.items.get(session_id)
        if item is None or not condition(item):
            return False
        for name, value in changes.items():
            if value is REMOVE:
                item.pop(name, None)
            else:
                item[name] = dynamo(value)
        return True

    def remove_unqueued(self, session_id: str, content_hash: str) -> None:
        item = self.items.get(session_id)
        if item and item["content_hash"] == content_hash and item["status"] == RECEIVED:
            del self.items[session_id]

    def reopen_failed(self, session_id: str) -> bool:
        return self._update(
            session_id,
            lambda i: i["status"] == FAILED,
            status=RECEIVED,
            updated_at=utc_now(),
            attempts=0,
            error=REMOVE,
            stop_reason=REMOVE,
        )

    def begin_attempt(self, session_id: str, content_hash: str, attempt: int) -> bool:
        return self._update(
            session_id,
            lambda i: i["content_hash"] == content_hash and i["status"] == RECEIVED and i["attempts"] < attempt,
            attempts=attempt,
            updated_at=utc_now(),
        )

    def fail_dead_lettered(self, session_id: str, content_hash: str, error: str, attempts: int) -> bool:
        return self._update(
            session_id,
            lambda i: i["content_hash"] == content_hash and i["status"] == RECEIVED,
            status=FAILED,
            error=error[:MAX_ERROR_CHARS],
            attempts=attempts,
            updated_at=utc_now(),
        )

    def mark_failed(
        self, session_id: str, error: str, attempts: int, final: bool, stop_reason: str | None = None
    ) -> bool:
        return self._update(
            session_id,
            lambda i: i["status"] in (RECEIVED, FAILED),
            status=FAILED if final else RECEIVED,
            error=error[:MAX_ERROR_CHARS],
            attempts=attempts,
            updated_at=utc_now(),
            stop_reason=stop_reason or REMOVE,
        )

    def mark_summarized(self, session_id: str, content_hash: str, summary: SummaryMade) -> bool:
        return self._update(
            session_id,
            lambda i: i["content_hash"] == content_hash and i["status"] in (RECEIVED, FAILED),
            **summary.fields(utc_now()),
            error=REMOVE,
        )

    def mark_edge_job(self, session_id: str, mark: dict[str, Any] | None) -> bool:
        return self._update(session_id, lambda i: i["status"] == SUMMARIZED, edge_job=mark or REMOVE)

    def add_distill_key(self, session_id: str, key: dict[str, str]) -> None:
        item = self.items.get(session_id)
        if not item or item["status"] != SUMMARIZED:
            raise not_found(f"no summarized session {session_id}")
        item["distill_keys"] = set(item.get("distill_keys") or ()) | {distill_key_text(key)}

    def set_embedding_version(self, session_id: str, embedding_version: str) -> None:
        if not self._update(session_id, lambda i: i["status"] == SUMMARIZED, embedding_version=embedding_version):
            raise condition_failed()

    def embedding_version_update(self, session_id: str, embedding_version: str) -> dict[str, Any]:
        return {"session_id": session_id, "embedding_version": embedding_version}

    def can_record(self, session_id: str) -> bool:
        """The condition of the real store's per-system state update: the session is SUMMARIZED."""
        return self.items.get(session_id, {}).get("status") == SUMMARIZED

    def set_system_state(self, session_id: str, system: str, state: SystemState) -> None:
        """What the real store's system_state_update does inside the record's transaction."""
        item = self.items[session_id]
        item["systems"][system] = dynamo(state.model_dump())
        item["updated_at"] = state.updated_at

    def translated_with(self, session_id: str, system: str, state: SystemState) -> bool:
        item = self.items.get(session_id)
        held = (item or {}).get("systems", {}).get(system)
        if not item or item["status"] != SUMMARIZED or not held or int(held["version"]) != state.version:
            return False
        item["systems"][system] = dynamo(state.model_dump())
        return True

    # deletion
    def mark_deleting(self, session_id: str, now: str, job_id: str | None = None, counted=None) -> bool:
        item = self.items.get(session_id)
        if item is None or item["status"] == DELETING or (counted is not None and not counted.holds()):
            return False
        item.update(status=DELETING, updated_at=now, deletion_requested_at=now)
        if job_id:
            item["deletion_job"] = job_id
        if counted is not None:
            counted.apply()
        return True

    def remove_deleted(self, session_id: str, counted=None) -> bool:
        item = self.items.get(session_id)
        if item is None or item["status"] != DELETING:
            return False
        del self.items[session_id]
        if counted is not None and counted.holds():
            counted.apply()
        return True

    # Message Batches
    def claim_for_batch(self, session_id, content_hash, claim_id, now_s, expires_s) -> bool:
        def free(i: dict[str, Any]) -> bool:
            claim_open = "batch_claim" not in i or i["batch_claim_expires"] < now_s
            return i["content_hash"] == content_hash and i["status"] == RECEIVED and "batch_id" not in i and claim_open

        return self._update(session_id, free, batch_claim=claim_id, batch_claim_expires=expires_s)

    def release_batch_claim(self, session_id: str, claim_id: str) -> None:
        self._update(
            session_id, lambda i: i.get("batch_claim") == claim_id, batch_claim=REMOVE, batch_claim_expires=REMOVE
        )

    def record_batch(self, session_id: str, claim_id: str, batch_id: str) -> bool:
        now = utc_now()
        return self._update(
            session_id,
            lambda i: i.get("batch_claim") == claim_id and "batch_id" not in i,
            batch_id=batch_id,
            batch_state=BATCH_PENDING,
            batch_submitted_at=now,
            updated_at=now,
            batch_claim=REMOVE,
            batch_claim_expires=REMOVE,
        )

    def pending_batch_ids(self) -> list[str]:
        return sorted({i["batch_id"] for i in self.items.values() if i.get("batch_state") == BATCH_PENDING})

    def sessions_in_batch(self, batch_id: str) -> list[str]:
        return [
            i["session_id"]
            for i in self.items.values()
            if i.get("batch_state") == BATCH_PENDING and i.get("batch_id") == batch_id
        ]

    def settle_batch(self, session_id: str, batch_id: str) -> None:
        self._update(session_id, lambda i: i.get("batch_id") == batch_id, batch_state=REMOVE)

    def fail_batch_session(self, session_id: str, batch_id: str, error: str, stop_reason: str | None = None) -> bool:
        item = self.items.get(session_id) or {}
        return self._update(
            session_id,
            lambda i: i.get("batch_id") == batch_id and i["status"] == RECEIVED,
            status=FAILED,
            error=error[:MAX_ERROR_CHARS],
            stop_reason=stop_reason,
            failed_batch_id=batch_id,
            updated_at=utc_now(),
            attempts=int(item.get("attempts", 0)) + 1,
            batch_id=REMOVE,
            batch_state=REMOVE,
        )


class FakeChangeLog:
    table_name = "Changes"

    def __init__(self) -> None:
        self.entries: dict[str, dict[int, dict[str, Any]]] = {}
        self.counters: dict[str, int] = {}

    def last_seq(self, system: str) -> int:
        return self.counters.get(system, 0)

    def add(self, system: str, entry: dict[str, Any]) -> int:
        seq = self.counters.get(system, 0) + 1
        self.counters[system] = seq
        self.entries.setdefault(system, {})[seq] = dynamo({"system": system, "seq": seq, **entry})
        return seq

    def page(self, system: str, since: int, limit: int) -> tuple[list[dict[str, Any]], bool]:
        after = [entry for seq, entry in sorted(self.entries.get(system, {}).items()) if seq > since]
        return [copy.deepcopy(entry) for entry in after[:limit]], len(after) >= limit

    def forget(self, system: str, seqs: Iterable[int]) -> None:
        for seq in seqs:
            self.entries.get(system, {}).pop(seq, None)


class FakeRecordStore:
    def __init__(self, sessions: FakeSessionStore, changes: FakeChangeLog | None = None) -> None:
        self.sessions, self.changes = sessions, changes or FakeChangeLog()
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.history: list[dict[str, Any]] = []
        self.objects: dict[str, bytes] = {}

    def for_summary(self, summary_id: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(item) for (sid, _), item in sorted(self.items.items()) if sid == summary_id]

    def page_for_system(self, system: str, limit: int, next_token: str | None):
        items = sorted((i for i in self.items.values() if i["system"] == system), key=lambda i: i["updated_at"])
        return page(items[::-1], ("summary_id", "system", "updated_at"), limit, next_token)

    def made_by(self, lineage_field: str, version_id: str) -> Iterator[tuple[str, str]]:
        return iter([key for key, item in sorted(self.items.items()) if item[lineage_field] == version_id])

    def get(self, summary_id: str, system: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.items.get((summary_id, system)))

    def document(self, item: dict[str, Any]) -> Any:
        if "document_key" in item:
            return json.loads(self.objects[item["document_key"]])
        return json.loads(item["document"])

    def store_version(
        self,
        *,
        summary_id,
        system,
        expected_version,
        document,
        patch,
        lineage: Lineage,
        request_id,
        author="edge",
        author_name="",
        keep=None,
        translate_ms=None,
        translated_with: Lineage | None = None,
    ):
        version, now = expected_version + 1, utc_now()
        text, patch_text = canonical_json(document), json.dumps(patch)
        stored = {"document_key": document_key(summary_id, system, version)}
        if len(text.encode()) <= INLINE_LIMIT_BYTES:
            stored = {"document": text}
        patched = {"patch_key": patch_key(summary_id, system, version)}
        if len(patch_text.encode()) <= INLINE_LIMIT_BYTES:
            patched = {"patch": patch_text}
        item = {
            "summary_id": summary_id,
            "system": system,
            "version": version,
            "document_hash": document_hash(document),
            "updated_at": now,
            "author": author,
            "author_name": author_name,
            **stored,
            **lineage.model_dump(),
            **(keep or {}),
            **({"translate_ms": translate_ms} if translate_ms is not None else {}),
        }
        change = {
            "summary_id": summary_id,
            "change": "created" if expected_version == 0 else "updated",
            "version": version,
            "changed_at": now,
            "author": author,
            "document_hash": item["document_hash"],
            **lineage.model_dump(),
            **stored,
        }
        history = {
            "record_key": f"{summary_id}#{system}",
            "version": version,
            "created_at": now,
            **patched,
            "request_id": request_id or "",
            "author": author,
            "author_name": author_name,
            "seq": 0,
            **lineage.model_dump(),
        }
        where = f"{summary_id}/{system} version {version}"
        for what, written in (("record", item), ("history entry", history), ("change entry", change)):
            check_item_size(f"the {what} of {where}", dynamo(written))
        current = self.items.get((summary_id, system))
        if (int(current["version"]) if current else 0) != expected_version:
            raise stale_version(f"{summary_id}/{system} is no longer at version {expected_version}")
        if not self.sessions.can_record(summary_id):
            raise not_found(f"no summarized session {summary_id}")
        if "document_key" in stored:
            self.objects[stored["document_key"]] = text.encode()
        if "patch_key" in patched:
            self.objects[patched["patch_key"]] = patch_text.encode()
        history["seq"] = self.changes.add(system, change)
        self.items[(summary_id, system)] = dynamo(item)
        self.history.append(dynamo(history))
        state = SystemState(
            version=version,
            updated_at=now,
            document_hash=item["document_hash"],
            **(translated_with or lineage).model_dump(),
        )
        self.sessions.set_system_state(summary_id, system, state)
        return item

    def remove(self, item: dict[str, Any]) -> bool:
        key = (item["summary_id"], item["system"])
        if key not in self.items:
            return False
        del self.items[key]
        change = {"summary_id": key[0], "change": "deleted", "version": item["version"], "changed_at": utc_now()}
        self.changes.add(key[1], {**change, "author": "user"})
        return True

    def history_page(self, summary_id: str, system: str, limit: int, next_token: str | None):
        items = [h for h in self.history if h["record_key"] == f"{summary_id}#{system}"]
        return patch_page(*page(items[::-1], ("record_key", "version"), limit, next_token), self._with_patch)

    def history_items(self, summary_id: str, system: str, patches: bool = True) -> list[dict[str, Any]]:
        items = [copy.deepcopy(h) for h in self.history if h["record_key"] == f"{summary_id}#{system}"]
        return [self._with_patch(h) for h in items] if patches else items

    def _with_patch(self, item: dict[str, Any]) -> dict[str, Any]:
        if "patch_key" not in item:
            return item
        return {
            **{k: v for k, v in item.items() if k != "patch_key"},
            "patch": self.objects[item["patch_key"]].decode(),
        }

    def forget_history(self, summary_id: str, system: str, versions: list[int]) -> None:
        key = f"{summary_id}#{system}"
        self.history = [h for h in self.history if not (h["record_key"] == key and int(h["version"]) in versions)]

    def delete_documents(self, summary_id: str) -> int:
        gone = [key for key in self.objects if key.startswith(document_prefix(summary_id))]
        for key in gone:
            del self.objects[key]
        return len(gone)

    def set_proposal(self, summary_id: str, system: str, version: int, proposal: dict[str, Any]) -> bool:
        item = self.items.get((summary_id, system))
        if not item or int(item["version"]) != version or item.get("author") != "user":
            return False
        item["proposal"] = dynamo(proposal)
        return True

    def clear_proposal(self, summary_id: str, system: str, version: int) -> bool:
        item = self.items.get((summary_id, system))
        if not item or int(item["version"]) != version or "proposal" not in item:
            return False
        del item["proposal"]
        return True

    def put_proposal_document(self, summary_id: str, system: str, document: Any) -> dict[str, Any]:
        text = canonical_json(document)
        if len(text.encode()) <= INLINE_LIMIT_BYTES:
            return {"document": text}
        key = f"{document_prefix(summary_id)}{system}/proposal-{document_hash(document)}.json"
        self.objects[key] = text.encode()
        return {"document_key": key}

    def proposal_document(self, proposal: dict[str, Any]) -> Any:
        return self.document(proposal)


class FakeRegistryStore(RegistryStore):
    """The real store's logic over an in-memory table (only the table's reads and writes are replaced)."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def _put_new(self, item: dict[str, Any]) -> bool:
        if item["version_id"] in self.items:
            return False
        self.items[item["version_id"]] = copy.deepcopy(item)
        return True

    def get(self, version_id: str) -> dict[str, Any] | None:
        item = self.items.get(version_id)
        return plain(item) if item else None

    def page(self, kind: str, limit: int, next_token: str | None):
        return page(self._all_of_kind(kind)[::-1], ("version_id", "kind", "created_at"), limit, next_token)

    def _put_pointer(self, item: dict[str, Any]) -> None:
        self.items[item["version_id"]] = copy.deepcopy(item)

    def _drop_pointer(self, version_id: str) -> dict[str, Any] | None:
        held = self.items.pop(version_id, None)
        return plain(held)["content"] if held else None

    def _all_of_kind(self, kind: str) -> list[dict[str, Any]]:
        items = (plain(i) for i in self.items.values() if i["kind"] == kind)
        return sorted(items, key=lambda i: (i["created_at"], i["version_id"]))


class FakeUsageStore:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, day: str, model_id: str, usage: TokenUsage, cost_usd: float | None) -> None:
        row = self.rows.setdefault((day, model_id), {"day": day, "model_id": model_id})
        cost = {"unpriced_calls": 1} if cost_usd is None else {"cost_usd": Decimal(str(round(cost_usd, 8)))}
        counts = {"calls": 1, **usage.model_dump(), **cost}
        for name, value in counts.items():
            row[name] = row.get(name, 0) + value

    def day(self, day: str) -> list[dict[str, Any]]:
        return [plain(dynamo(row)) for (d, _), row in sorted(self.rows.items()) if d == day]


class FakeRefreshStore:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def coalesce(self, selection: str, request_id: str, now_s: int, window_s: int) -> str | None:
        key = "key:" + selection
        held = self.items.get(key)
        if held and held["created_epoch"] >= now_s - window_s:
            return held["current"]
        self.items[key] = {"request_id": key, "current": request_id, "created_epoch": now_s}
        return None

    def reclaim(self, selection: str, request_id: str, finished: str, now_s: int, window_s: int) -> bool:
        key = "key:" + selection
        if (self.items.get(key) or {}).get("current") != finished:
            return False
        self.items[key] = {"request_id": key, "current": request_id, "created_epoch": now_s}
        return True

    def put(self, request: dict[str, Any]) -> None:
        self.items[request["request_id"]] = dynamo(request)

    def get(self, request_id: str) -> dict[str, Any] | None:
        if request_id.startswith(("key:", "done:", "queued:", "open:", "pending:")):
            return None
        item = self.items.get(request_id)
        return plain(item) if item else None

    def complete_one(self, request_id: str, piece: str, expires_at: int) -> bool:
        done = f"done:{request_id}:{piece}"
        if done in self.items:
            return False
        self.items[done] = {"request_id": done, "expires_at": expires_at}
        item = self.items.get(request_id)
        if item is None or item.get("status") == "done":
            return False
        item["completed"] = item.get("completed", 0) + 1
        if "completed_by_system" in item:
            by_system, system = item["completed_by_system"], piece.rsplit("/", 1)[1]
            by_system[system] = by_system.get(system, 0) + 1
        item["status"] = "done" if item["completed"] >= item["queued"] else "in_progress"
        return True

    def drop_system(self, system: str) -> list[str]:
        dropped = []
        for key in sorted(self.items):
            item = self.items[key]
            if key.startswith(("key:", "done:", "queued:", "pending:")) or item.get("status") == "done":
                continue
            queued = (item.get("queued_by_system") or {}).get(system, 0)
            completed = (item.get("completed_by_system") or {}).get(system, 0)
            if queued > completed:
                item["queued"] -= queued - completed
                item["queued_by_system"][system] = completed
                item["dropped"] = item.get("dropped", 0) + queued - completed
                if item.get("completed", 0) >= item["queued"]:
                    item["status"] = "done"
                dropped.append(key)
        return dropped

    def mark_pending(self, summary_id: str, entries: set[str], expires_at: int, read_at: int) -> bool:
        held = self.items.setdefault("pending:" + summary_id, {"request_id": "pending:" + summary_id})
        if held.get("gone_at") is not None and held["gone_at"] >= read_at:
            return False
        held["entries"] = held.get("entries", set()) | entries
        held["expires_at"] = expires_at
        return True

    def clear_pending(self, summary_id: str, entries: set[str]) -> None:
        held = self.items.get("pending:" + summary_id)
        if held and "entries" in held:
            held["entries"] -= entries

    def drop_summary(self, summary_id: str, now_s: int, expires_at: int) -> list[str]:
        held = self.items.get("pending:" + summary_id) or {}
        entries = set(held.get("entries") or ())
        self.items["pending:" + summary_id] = {"request_id": "pending:" + summary_id, "gone_at": now_s}
        return self.drop_pieces(summary_id, entries, expires_at)

    def drop_pieces(self, summary_id: str, entries: set[str], expires_at: int) -> list[str]:
        dropped = []
        for entry in sorted(entries):
            request_id, system = entry.split("|", 1)
            piece = f"{summary_id}/{system}"
            done = f"done:{request_id}:{piece}"
            if system != "embed":
                self.release_queued(piece)
            if done in self.items:
                continue
            self.items[done] = {"request_id": done, "dropped": True, "expires_at": expires_at}
            item = self.items.get(request_id)
            if item is None or item.get("status") == "done":
                continue
            by_system = item.get("queued_by_system")
            counted = (item.get("completed_by_system") or {}).get(system, 0)
            if (by_system.get(system, 0) - counted if by_system is not None else item["queued"]) <= 0:
                continue
            item["queued"] -= 1
            if by_system is not None:
                by_system[system] -= 1
            item["dropped"] = item.get("dropped", 0) + 1
            if item.get("completed", 0) >= item["queued"]:
                item["status"] = "done"
            dropped.append(request_id)
        return dropped

    def counted(self, request_id: str, pieces: list[str]) -> set[str]:
        return {piece for piece in pieces if f"done:{request_id}:{piece}" in self.items}

    def claim_queued(
        self, piece: str, request_id: str, now_s: int, expires_at: int, finished: dict[str, bool] | None = None
    ) -> bool:
        key = "queued:" + piece
        held = self.items.get(key)
        if held and held["expires_at"] >= now_s and (self.items.get(held["current"]) or {}).get("status") != "done":
            return False
        self.items[key] = {"request_id": key, "current": request_id, "expires_at": expires_at}
        return True

    def release_queued(self, piece: str) -> str | None:
        held = self.items.pop("queued:" + piece, None)
        return held["current"] if held else None


class FakeTokenStore:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def create(self, name: str, scopes: list[str], source: str | None = None, ttl_seconds: int | None = None) -> str:
        check_grant(scopes, source)
        token = new_token()
        item: dict[str, Any] = {"token_hash": hash_token(token), "name": name, "scopes": sorted(set(scopes))}
        item.update({"source": source} if source else {})
        item.update({"expires_at": Decimal(int(time.time()) + ttl_seconds)} if ttl_seconds else {})
        self.items[item["token_hash"]] = item
        return token

    def revoke(self, name: str) -> None:
        for item in self.items.values():
            if item["name"] == name:
                item["revoked"] = True

    def lookup(self, token: str) -> TokenGrant | None:
        token_hash = hash_token(token)
        return grant_from_item(self.items.get(token_hash), token_hash)


class FakeEmbeddingStore:
    table_name = "Embeddings"

    def __init__(self, sessions: FakeSessionStore | None = None) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.sessions = sessions

    def put(self, summary_id: str, embedding_version: str, vector: Sequence[float], created_at: str) -> None:
        self.items[summary_id] = {"embedding_version": embedding_version, "vector": pack(vector)}

    def put_for_summary(self, summary_id, embedding_version, vector, created_at, session_update) -> bool:
        """The vector and the session's update, which needs the session SUMMARIZED, all or nothing."""
        assert self.sessions is not None and session_update["session_id"] == summary_id
        if not self.sessions.can_record(summary_id):
            return False
        self.put(summary_id, embedding_version, vector, created_at)
        self.sessions.set_embedding_version(summary_id, embedding_version)
        return True

    def delete(self, summary_id: str) -> None:
        self.items.pop(summary_id, None)

    def many(self, summary_ids: Iterable[str]) -> list[tuple[str, str, np.ndarray]]:
        found = [(i, self.items[i]) for i in sorted(set(summary_ids)) if i in self.items]
        return [(i, item["embedding_version"], unpack(item["vector"])) for i, item in found]


class FakeQueryEmbeddingStore:
    def __init__(self) -> None:
        self.items: dict[str, bytes] = {}

    def put(self, query_key: str, embedding_version: str, vector: Sequence[float]) -> None:
        self.items[query_key] = pack(vector)

    def get(self, query_key: str) -> np.ndarray | None:
        return unpack(self.items[query_key]) if query_key in self.items else None


class FakeConnectionStore:
    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def add(self, connection_id: str, name: str) -> None:
        self.names[connection_id] = name

    def remove(self, connection_id: str) -> None:
        self.names.pop(connection_id, None)

    def ids(self) -> Iterator[str]:
        return iter(sorted(self.names))


class FakeConnectionsApi:
    """The @connections API: connections in `gone` answer GoneException (post returns False)."""

    def __init__(self, gone: Iterable[str] = ()) -> None:
        self.gone, self.posted = set(gone), []

    def post(self, connection_id: str, data: bytes) -> bool:
        if connection_id in self.gone:
            return False
        self.posted.append((connection_id, json.loads(data)))
        return True


class FakeIndexFile:
    def __init__(self, index: SearchIndex | None = None) -> None:
        self.index, self.writes, self.old_versions = index or SearchIndex.empty(), 0, 0

    def load(self) -> tuple[SearchIndex, str | None]:
        return self.index, f'"etag-{self.writes}"' if self.writes else None

    def update(self, change: Callable[[SearchIndex], SearchIndex]) -> SearchIndex:
        self.index = SearchIndex.from_bytes(change(self.index).to_bytes())  # as stored and read back
        self.writes += 1
        self.old_versions += 1
        return self.index

    def drop_old_versions(self) -> int:
        dropped, self.old_versions = self.old_versions, 0
        return dropped


class Counted:
    """A deletion job's counter update, applied with the session write it goes with (a transaction's entry)."""

    def __init__(self, jobs: FakeDeletionStore, user_id: str, job_id: str, counter: str) -> None:
        self.jobs, self.user_id, self.job_id, self.counter = jobs, user_id, job_id, counter

    def holds(self) -> bool:
        return self.jobs.items.get(self.user_id, {}).get("job_id") == self.job_id

    def apply(self) -> None:
        item = self.jobs.items[self.user_id]
        item[self.counter] = item.get(self.counter, 0) + 1


class FakeDeletionStore:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def get(self, user_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.items.get(user_id))

    def start(self, user_id: str, job_id: str, requested_by: str, now: str) -> bool:
        earlier = self.items.get(user_id, {})
        if earlier.get("status", "done") != "done":
            return False
        self.items[user_id] = {
            "user_id": user_id,
            "job_id": job_id,
            "status": "running",
            "found": earlier.get("found", 0),  # a job after a finished one counts on from its figures
            "deleted": earlier.get("deleted", 0),
            "listed": False,
            "requested_by": requested_by,
            "requested_at": now,
            "updated_at": now,
        }
        return True

    def counted(self, user_id: str, job_id: str, counter: str) -> Counted:
        return Counted(self, user_id, job_id, counter)

    def listed(self, user_id: str, job_id: str, now: str) -> None:
        item = self.items.get(user_id)
        if item and item["job_id"] == job_id:
            item.update(listed=True, updated_at=now)

    def finish_if_complete(self, user_id: str, job_id: str, now: str) -> bool:
        item = self.items.get(user_id)
        if not item or item["job_id"] != job_id or item["status"] != "running" or not item["listed"]:
            return False
        if item["deleted"] < item["found"]:
            return False
        item.update(status="done", finished_at=now, updated_at=now)
        return True


class FakeIdempotency:
    """Summary records by (session_id, content_hash): 'INPROGRESS' (a call in flight) or 'COMPLETED'."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], str] = {}

    def in_flight(self, session_id: str, content_hash: str) -> bool:
        return self.records.get((session_id, content_hash)) == "INPROGRESS"

    def forget(self, session_id: str, content_hash: str) -> None:
        self.records.pop((session_id, content_hash), None)


class FakeDistillIdempotency:
    """Distillation records: ApiWorld.made_once (the call's result by key), and the keys whose call is in flight."""

    def __init__(self, made_once: dict[str, dict[str, Any]]) -> None:
        self.made_once, self.running = made_once, set[str]()

    def in_flight(self, key: dict[str, str]) -> bool:
        return json.dumps(key, sort_keys=True) in self.running

    def forget(self, key: dict[str, str]) -> None:
        self.made_once.pop(json.dumps(key, sort_keys=True), None)


class FakeExportArchives:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, user_id: str, stamp: str, body) -> str:
        key = f"exports/{user_id}/{stamp}-{len(self.objects)}.jsonl.gz"
        self.objects[key] = body.read()
        return key

    def link(self, key: str, expires_s: int) -> str:
        return f"https://bucket.example/{key}?expires={expires_s}"

    def delete_for_user(self, user_id: str) -> int:
        gone = [key for key in self.objects if key.startswith(f"exports/{user_id}/")]
        for key in gone:
            del self.objects[key]
        return len(gone)


# ----- queues -----
class FakeSummarizeQueue:
    def __init__(self) -> None:
        self.sent: list[SummarizeRequest] = []
        self.fail = False

    def send(self, request: SummarizeRequest) -> None:
        if self.fail:
            raise RuntimeError("injected: SendMessage failed")
        self.sent.append(request)


class FakeEdgeQueue:
    """FIFO with deduplication: a dedup key seen before is not delivered again (SQS's five-minute window)."""

    def __init__(self) -> None:
        self.sent: list[TranslateRequest] = []
        self._seen: set[str] = set()

    def send(self, request: TranslateRequest, dedup_key: str) -> None:
        if dedup_key not in self._seen:
            self._seen.add(dedup_key)
            self.sent.append(request)


class FakeDeletionQueue:
    """Sent messages in order, each with its delay; `fail_next` refuses the next send."""

    def __init__(self) -> None:
        self.sent: list[tuple[DeletionRequest, int]] = []
        self.fail_next = False

    def send(self, request: DeletionRequest, delay_seconds: int = 0) -> None:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("injected: SendMessage failed")
        self.sent.append((request, delay_seconds))

    def send_many(self, requests: list[DeletionRequest]) -> None:
        for request in requests:
            self.send(request)

    def take(self) -> list[DeletionRequest]:
        taken, self.sent = [request for request, _ in self.sent], []
        return taken


class FakeBackfillQueue(FakeEdgeQueue):
    """The backfill queue (FIFO with deduplication, like the edge queue)."""


class FakeQueryQueue:
    """Searches waiting for the edge; `edge` (if set) answers each one as it is sent."""

    def __init__(self, edge: Callable[[QueryEmbeddingRequest], None] | None = None) -> None:
        self.sent: list[QueryEmbeddingRequest] = []
        self.edge = edge

    def send(self, request: QueryEmbeddingRequest) -> None:
        self.sent.append(request)
        if self.edge:
            self.edge(request)


# ----- the summarizer -----
def summary_result(text: str = "Overview: a summary.", model_id: str = "claude-haiku-4-5") -> SummaryResult:
    usage = TokenUsage(input_tokens=1000, output_tokens=200)
    return SummaryResult(
        text=text, model_id=model_id, provider="anthropic", usage=usage, latency_ms=5, stop_reason="end_turn"
    )


@dataclass
class FakeSummarizer:
    """Answers from `script` (a result or an error per call, then the default result); batches stay in memory."""

    script: list[SummaryResult | Exception] = field(default_factory=list)
    calls: list[Session] = field(default_factory=list)
    batches: dict[str, list[tuple[str, Session]]] = field(default_factory=dict)
    ended: set[str] = field(default_factory=set)
    outcomes: dict[str, dict[str, BatchOutcome]] = field(default_factory=dict)
    fail_submit: Exception | None = None
    retry_budgets: tuple[int, ...] = (8192,)
    budgets: list[Sequence[int] | None] = field(default_factory=list)
    model_id: str = "claude-haiku-4-5"
    prompts: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)  # complete's (system, messages)
    counted_tokens: int | None = 1500  # None: the provider cannot count

    def complete(self, system: str, messages: list[dict[str, Any]], max_tokens: int) -> SummaryResult:
        self.prompts.append((system, messages))
        answer = self.script.pop(0) if self.script else summary_result("{}", self.model_id)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def count_tokens(self, system: str, messages: list[dict[str, Any]]) -> int:
        if self.counted_tokens is None:
            raise SummarizerError("bedrock client error: count_tokens is not supported", retryable=False)
        return self.counted_tokens

    def summarize(
        self, session: Session, *, budgets: Sequence[int] | None = None, deadline: float | None = None
    ) -> SummaryResult:
        self.calls.append(session)
        self.budgets.append(budgets)
        answer = self.script.pop(0) if self.script else summary_result(f"Summary of {session.session_id}.")
        if isinstance(answer, Exception):
            raise answer
        return answer

    def submit_batch(self, requests: Sequence[tuple[str, Session]]) -> str:
        if self.fail_submit:
            raise self.fail_submit
        batch_id = f"msgbatch_{len(self.batches) + 1}"
        self.batches[batch_id] = list(requests)
        return batch_id

    def end(self, batch_id: str, **outcomes: BatchOutcome) -> None:
        """End a batch: each custom_id gets the given outcome, or a summary of its session."""
        self.ended.add(batch_id)
        made = {cid: summary_result(f"Summary of {s.session_id}.") for cid, s in self.batches[batch_id]}
        self.outcomes[batch_id] = {**made, **outcomes}

    def batch_status(self, batch_id: str) -> BatchStatus:
        if batch_id not in self.batches:
            raise SummarizerError(f"batch {batch_id} not found", retryable=False, status=404)
        return BatchStatus(batch_id, "ended" if batch_id in self.ended else "in_progress", 1000)

    def batch_results(self, batch_id: str, latency_ms: int = 0) -> Iterator[tuple[str, BatchOutcome]]:
        return iter(self.outcomes[batch_id].items())


# ----- HTTP events -----
def http_event(
    method: str,
    path: str,
    *,
    scopes: str = "",
    source: str = "",
    body: Any = None,
    query: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event after the authorizer granted `scopes`."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"content-type": content_type},
        "queryStringParameters": query,
        "requestContext": {
            "http": {"method": method, "path": path, "sourceIp": "192.0.2.1"},
            "authorizer": {"lambda": {"name": "unit", "scopes": scopes, "source": source}},
            "requestId": "unit",
            "stage": "$default",
        },
        "body": None if body is None else (body if isinstance(body, str) else json.dumps(body)),
        "isBase64Encoded": False,
    }


# ----- data -----
def make_session(
    session_id: str = "s-1",
    source: str = "planner",
    text: str = "Book the dentist for Friday",
    started_at: str = "2026-11-24T09:00:00Z",
    user_id: str = "user-1",
) -> Session:
    """`started_at` is also the end of a session that does not start at the default time."""
    return Session.model_validate(
        {
            "session_id": session_id,
            "source": source,
            "user_id": user_id,
            "started_at": started_at,
            "ended_at": "2026-11-24T09:10:00Z" if started_at == "2026-11-24T09:00:00Z" else started_at,
            "turns": [
                {"role": "user", "content": text, "timestamp": "2026-11-24T09:00:05Z"},
                {"role": "assistant", "content": "Noted.", "timestamp": "2026-11-24T09:00:09Z"},
            ],
        }
    )


def add_summarized(
    sessions: FakeSessionStore, session_id: str, text: str = "Overview: the dentist on Friday.", source: str = "planner"
) -> str:
    """A session the way the summarizer leaves it: SUMMARIZED with its text stored; returns its content hash."""
    session = make_session(session_id, source=source)
    content_hash = session.content_hash()
    sessions.create(session, content_hash, sessions.put_raw(session, content_hash)[0])
    made = SummaryMade(
        summary_key=sessions.put_summary_text(session_id, text),
        model_version="summarizer-model:0123456789abcdef0123",
        prompt_version="summarizer-prompt:0123456789abcdef0123",
        usage=TokenUsage(input_tokens=10, output_tokens=5),
        cost_usd=0.0001,
        latency_ms=7,
        stop_reason="end_turn",
    )
    assert sessions.mark_summarized(session_id, content_hash, made)
    return content_hash


# ----- services over fakes -----
@dataclass
class ApiWorld:
    """ApiFunction's services wired to fakes (as functions.api.wiring wires them to AWS)."""

    sessions: FakeSessionStore = field(default_factory=FakeSessionStore)
    registry: FakeRegistryStore = field(default_factory=FakeRegistryStore)
    usage: FakeUsageStore = field(default_factory=FakeUsageStore)
    refresh_store: FakeRefreshStore = field(default_factory=FakeRefreshStore)
    edge_queue: FakeEdgeQueue = field(default_factory=FakeEdgeQueue)
    backfill_queue: FakeBackfillQueue = field(default_factory=FakeBackfillQueue)
    query_queue: FakeQueryQueue = field(default_factory=FakeQueryQueue)
    embeddings: FakeEmbeddingStore = field(default_factory=FakeEmbeddingStore)
    changes: FakeChangeLog = field(default_factory=FakeChangeLog)
    query_embeddings: FakeQueryEmbeddingStore = field(default_factory=FakeQueryEmbeddingStore)
    index_file: FakeIndexFile = field(default_factory=FakeIndexFile)
    wait_seconds: float = 0.5
    online_seconds: int = 180
    summarizer: FakeSummarizer = field(default_factory=FakeSummarizer)
    made_once: dict[str, dict[str, Any]] = field(default_factory=dict)  # distillation key -> the call's result

    def once(self, key: dict[str, str], call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Powertools idempotency in memory: a key's call runs once, and a failed call is not remembered."""
        name = json.dumps(key, sort_keys=True)
        if name not in self.made_once:
            self.made_once[name] = call()
        return self.made_once[name]

    def __post_init__(self) -> None:
        from functions.api.distill import DistillService
        from functions.api.edge_status import EdgeStatus
        from functions.api.edge_sync import EdgeSync
        from functions.api.embedding_sync import EmbeddingSync
        from functions.api.reads import Reads
        from functions.api.record_edits import RecordEdits
        from functions.api.refresh import RefreshService
        from functions.search.service import SearchService

        self.embeddings.sessions = self.sessions
        self.records = FakeRecordStore(self.sessions, self.changes)
        self.refresh = RefreshService(
            self.refresh_store,
            self.sessions,
            self.records,
            self.registry,
            self.edge_queue,
            window_seconds=300,
            backfill_queue=self.backfill_queue,
        )
        self.edge_status = EdgeStatus(self.sessions, self.registry, self.online_seconds)
        self.reads = Reads(self.sessions, self.records, self.registry, self.usage, self.changes, self.edge_status)
        self.edits = RecordEdits(self.sessions, self.records, self.registry)
        self.edge = EdgeSync(self.sessions, self.records, self.registry, self.refresh)
        self.distill = DistillService(self.sessions, self.registry, self.usage, lambda: self.summarizer, self.once)
        self.embedding_sync = EmbeddingSync(
            self.sessions, self.registry, self.embeddings, self.query_embeddings, self.refresh
        )
        self.search = SearchService(
            self.index_file,
            self.query_embeddings,
            self.sessions,
            self.registry,
            self.query_queue,
            self.wait_seconds,
            self.online_seconds,
        )


@dataclass
class UserDataWorld:
    """UserDataFunction's and PurgeFunction's services over fakes, sharing the API's stores (one world)."""

    api: ApiWorld = field(default_factory=ApiWorld)
    jobs: FakeDeletionStore = field(default_factory=FakeDeletionStore)
    queue: FakeDeletionQueue = field(default_factory=FakeDeletionQueue)
    idempotency: FakeIdempotency = field(default_factory=FakeIdempotency)
    archives: FakeExportArchives = field(default_factory=FakeExportArchives)

    def __post_init__(self) -> None:
        from functions.purge.purger import Purger
        from functions.user_data.deletion import Deletions
        from functions.user_data.export import Exporter

        api = self.api
        self.distills = FakeDistillIdempotency(api.made_once)
        self.deletions = Deletions(api.sessions, self.jobs, self.queue)
        self.exporter = Exporter(api.sessions, api.records, self.archives)
        self.purger = Purger(
            sessions=api.sessions,
            records=api.records,
            changes=api.changes,
            embeddings=api.embeddings,
            index_file=api.index_file,
            idempotency=self.idempotency,
            distills=self.distills,
            archives=self.archives,
            jobs=self.jobs,
            queue=self.queue,
            refresh=api.refresh_store,
        )

    def drain(self, limit: int = 10_000) -> list[str]:
        """Deliver every queued deletion message (and those they queue) to the purge; returns the outcomes."""
        outcomes: list[str] = []
        while self.queue.sent and len(outcomes) < limit:
            request, _ = self.queue.sent.pop(0)
            outcomes.append(self.purger.handle(request))
        return outcomes


def system_definition(name: str = "planner", description: str = "Calendar entries") -> dict[str, Any]:
    """A small, valid system definition file."""
    return {
        "name": name,
        "description": description,
        "instructions": "Extract the appointments.",
        "schema": {
            "type": "object",
            "properties": {"title": {"type": "string"}, "day": {"type": "string", "format": "date"}},
            "required": ["title"],
            "additionalProperties": False,
        },
        "examples": [
            {"summary": "Dentist on Friday 2025-03-14.", "expected": {"title": "Dentist", "day": "2025-03-14"}}
        ],
        "max_output_tokens": 256,
    }
