"""A user's own changes to a system record: RFC 6902 edits, and the model output that waits beside an edit.

Every change names the version it was made against (If-Match: "<version>"), so two editors, or an editor and
the edge, never overwrite each other unseen. An edit is checked against the record's JSON Schema and stored as
a new version authored by the user; it keeps the lineage of the version it changed.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
from jsonpointer import JsonPointerException

from functions.api.documents import check_document
from functions.errors import ClientError, not_found, unknown_system
from functions.http.auth import Principal
from functions.http.validation import clipped, shown
from functions.http.views import record_view
from functions.stores.records import RecordStore, document_hash
from functions.stores.registry import RegistryStore
from functions.stores.sessions import SessionStore
from schemas.contracts import Lineage, lineage_of

MAX_REASON_CHARS = 200


def record_etag(version: int) -> str:
    return f'"{version}"'


def _moved_on(current: dict[str, Any]) -> ClientError:
    """412: the record is no longer at the version `current` (read for this request) has."""
    where = f"{current['summary_id']}/{current['system']}"
    return ClientError(
        "precondition_failed", f"{where} is no longer at version {current['version']}; read it again", status=412
    )


def expected_version(if_match: str | None) -> int:
    """The version an If-Match header names; 428 without one, 400 for anything but "<version>"."""
    if not if_match:
        raise ClientError(
            "precondition_required",
            'send If-Match: "<version>" with the record version you changed (GET the record for it)',
            status=428,
        )
    text = if_match.strip().strip('"')
    if not (text.isascii() and text.isdigit() and len(text) <= 12):
        raise ClientError("invalid_if_match", f'If-Match must be "<version>", got {if_match[:40]!r}')
    return int(text)


def applied(document: Any, operations: Any) -> Any:
    """`document` after the RFC 6902 patch `operations` (jsonpatch); 409 when a test fails, 422 when invalid."""
    if not isinstance(operations, list):
        raise ClientError("invalid_patch", "the body must be a JSON Patch: an array of operations", status=422)
    result = copy.deepcopy(document)
    for index, operation in enumerate(operations):  # one by one, as JsonPatch.apply does, to name the one refused
        where = f"operation {index}" + (
            f" ({clipped(str(operation.get('op')))} {shown(operation.get('path'))})"
            if isinstance(operation, dict)
            else ""
        )
        try:
            result = jsonpatch.JsonPatch([operation]).apply(result, in_place=True)
        except jsonpatch.JsonPatchTestFailed as error:
            message = f"{where}: the document holds another value there"
            raise ClientError("patch_test_failed", message, status=409) from error
        except (
            jsonpatch.JsonPatchException,
            JsonPointerException,
            TypeError,
            ValueError,
            KeyError,
            IndexError,
        ) as error:
            reason = clipped(str(error), MAX_REASON_CHARS)  # a pointer error quotes the whole document
            raise ClientError("invalid_patch", f"{where} cannot be applied: {reason}", status=422) from error
    return result


def _still_proposed(current: dict[str, Any], edited: Any) -> dict[str, Any] | None:
    """The proposal kept beside a user's edit: none when the edit made the record say what it proposes."""
    proposal = current.get("proposal")
    if not proposal or proposal.get("document_hash") == document_hash(edited):
        return None
    return {"proposal": proposal}


def last_translation(session: dict[str, Any], system: str) -> Lineage | None:
    """The lineage the session's state names for the system's record (the edge's last translation of it), if any."""
    state = session.get("systems", {}).get(system)
    return lineage_of(state) if state else None


class RecordEdits:
    def __init__(self, sessions: SessionStore, records: RecordStore, registry: RegistryStore) -> None:
        self.sessions, self.records, self.registry = sessions, records, registry

    def view(self, summary_id: str, system: str) -> dict:
        """The record as it is now (its version is the ETag an edit names in If-Match); 404 when there is none."""
        self.sessions.summarized(summary_id)
        return self._view(self._record(summary_id, system))

    def _current(self, summary_id: str, system: str, if_match: str | None) -> dict[str, Any]:
        return self._read(summary_id, system, if_match)[1]

    def _record(self, summary_id: str, system: str) -> dict[str, Any]:
        current = self.records.get(summary_id, system)
        if not current:
            if not self.registry.active_system(system):
                raise unknown_system(system)
            raise not_found(f"session {summary_id} has no {system} record")
        return current

    def _read(self, summary_id: str, system: str, if_match: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """(session item, current record) for a write at the version `if_match` names; the session is read first,
        so a translation stored between the two reads is in the record read (its proposal is kept)."""
        version = expected_version(if_match)
        session = self.sessions.summarized(summary_id)
        current = self._record(summary_id, system)
        if int(current["version"]) != version:
            raise ClientError(
                "precondition_failed",
                f"{summary_id}/{system} is at version {current['version']}, not {version}; read it again",
                status=412,
            )
        return session, current

    def edit(self, summary_id: str, system: str, operations: Any, if_match: str | None, caller: Principal) -> dict:
        """Apply the patch to the current version and store the result as the user's version (or leave the
        record as it is when nothing changes). Raises 404, 409, 412, 422 or 428."""
        session, current = self._read(summary_id, system, if_match)
        document = self.records.document(current)
        changed = applied(document, operations)
        if not isinstance(changed, dict):
            raise ClientError("invalid_patch", "the patched document must stay a JSON object", status=422)
        check_document(self.registry, current["schema_version"], changed)
        if document_hash(changed) == current["document_hash"]:
            return self._view(current)
        item = self._store_next(
            current,
            document=changed,
            patch=jsonpatch.make_patch(document, changed).patch,
            lineage=lineage_of(current),
            request_id=None,
            author="user",
            author_name=caller.name,
            keep=_still_proposed(current, changed),
            translated_with=last_translation(session, system),
        )
        return self._view(item)

    def _store_next(self, current: dict[str, Any], **fields: Any) -> dict:
        """Store the version after `current` (RecordStore.store_version's other `fields`); another writer's version
        stored since it was read is a 412, as when If-Match named an old version (the store answers 409)."""
        try:
            return self.records.store_version(
                summary_id=current["summary_id"],
                system=current["system"],
                expected_version=int(current["version"]),
                **fields,
            )
        except ClientError as error:
            if error.code != "stale_version":
                raise
            raise _moved_on(current) from error

    def accept_proposal(self, summary_id: str, system: str, if_match: str | None) -> dict:
        """Make the waiting model output the record's next version. Raises 404, 412 or 428."""
        current = self._current(summary_id, system, if_match)
        proposal = current.get("proposal")
        if not proposal:
            raise not_found(f"{summary_id}/{system} has no proposal waiting")
        if proposal.get("document_hash") == current["document_hash"]:  # the user's version already says the same
            if not self.records.clear_proposal(summary_id, system, int(current["version"])):
                raise _moved_on(current)
            return self._view(self.records.get(summary_id, system) or current)
        document, previous = self.records.proposal_document(proposal), self.records.document(current)
        item = self._store_next(
            current,
            document=document,
            patch=jsonpatch.make_patch(previous, document).patch,
            lineage=Lineage(**proposal["lineage"]),
            request_id=proposal.get("request_id") or None,
            author="edge",
            author_name=proposal.get("author_name", ""),
        )
        return self._view(item)

    def dismiss_proposal(self, summary_id: str, system: str, if_match: str | None) -> dict:
        """Drop the waiting model output; the user's version stays. Raises 404, 412 or 428."""
        current = self._current(summary_id, system, if_match)
        if not current.get("proposal"):
            raise not_found(f"{summary_id}/{system} has no proposal waiting at version {current['version']}")
        if not self.records.clear_proposal(summary_id, system, int(current["version"])):
            raise _moved_on(current)
        return self._view(self.records.get(summary_id, system) or current)

    def _view(self, item: dict[str, Any]) -> dict:
        proposal = item.get("proposal")
        return record_view(item, self.records.document(item), proposal and self.records.proposal_document(proposal))
