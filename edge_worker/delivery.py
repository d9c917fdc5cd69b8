"""Delivery to the API: send now, else keep in the outbox; replay the outbox, in order, once the API is back.

An entry the API refuses (4xx), or fails on its side (5xx) try after try, is set aside as a dead letter so the
entries behind it keep flowing; while the API is unreachable or busy (429) everything waits and nothing is counted.
An entry for a summary deleted meanwhile (404/410) is dropped: a deletion leaves no copy on the Mac either.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import unquote

from edge_worker.api_client import ApiRejected, ApiUnavailable, body_of
from edge_worker.outbox import Entry, Outbox
from edge_worker.ports import CloudApi
from schemas import routes
from schemas.edge_api import EmbeddingUpload, RecordUpload, RegistryUpload

SUMMARY_PATHS = routes.EDGE_SUMMARY.split("{", 1)[0]  # a summary's record and embedding uploads


def summary_of(path: str) -> str | None:
    """The summary id an upload's path names ("/edge/summaries/s%2F1/systems/planner" -> "s/1"), else None."""
    if not path.startswith(SUMMARY_PATHS):
        return None
    return unquote(path[len(SUMMARY_PATHS) :].split("/", 1)[0])


class Replayed(NamedTuple):
    sent: int
    set_aside: list[str]  # one "METHOD path: reason" line per entry set aside now
    dropped: int = 0  # entries for summaries deleted meanwhile


DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_RETRY_BASE_S = 5.0
MAX_RETRY_WAIT_S = 600.0


def counts_as_a_try(error: ApiUnavailable) -> bool:
    """A 5xx answer is this request failing; no answer (network) or a 429 says nothing about the request."""
    return error.status is not None and error.status >= 500


@dataclass(frozen=True)
class Upload:
    """One API request: `call` makes it now (an EdgeApi method); the outbox keeps it as (method, path, body).

    `once`: content-addressed (a registry entry), so sent at most once per process once it got through.
    """

    call: Callable[[], Any]
    method: str
    path: str
    body: Any
    once: bool = False


@dataclass(frozen=True)
class Sent:
    """What became of a send: delivered now (with the API's answer to the last upload) or kept in the outbox."""

    delivered: bool
    answer: Any = None


class Delivery:
    """Nothing the edge produced is lost while the API is away: what cannot be sent now waits in the outbox.

    An entry whose sends the API failed (5xx) `max_attempts` times is set aside; between tries it waits
    `retry_base_s` doubled after each try (at most MAX_RETRY_WAIT_S), and the entries behind it wait in order.
    """

    def __init__(
        self,
        api: CloudApi,
        outbox: Outbox,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        retry_base_s: float = DEFAULT_RETRY_BASE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api, self.outbox = api, outbox
        self.max_attempts, self.retry_base_s, self.clock = max_attempts, retry_base_s, clock
        self._sent_once: set[str] = set()

    # ----- the uploads -----
    def registry_entry(self, version_id: str, kind: str, content: dict[str, Any]) -> Upload:
        upload = RegistryUpload(kind=kind, content=content)
        path = routes.path(routes.EDGE_REGISTRY, version_id=version_id)
        call = functools.partial(self.api.put_registry, version_id, upload)
        return Upload(call, "PUT", path, body_of(upload), once=True)

    def record(self, summary_id: str, system: str, upload: RecordUpload) -> Upload:
        path = routes.path(routes.EDGE_RECORD, summary_id=summary_id, system=system)
        return Upload(functools.partial(self.api.put_record, summary_id, system, upload), "PUT", path, body_of(upload))

    def embedding(self, summary_id: str, upload: EmbeddingUpload) -> Upload:
        path = routes.path(routes.EDGE_EMBEDDING, summary_id=summary_id)
        return Upload(functools.partial(self.api.put_embedding, summary_id, upload), "PUT", path, body_of(upload))

    def system(self, name: str, definition: dict[str, Any]) -> Upload:
        path = routes.path(routes.EDGE_SYSTEM, system=name)
        return Upload(functools.partial(self.api.put_system, name, definition), "PUT", path, definition)

    # ----- sending -----
    def send(self, *uploads: Upload, keep: bool = True) -> Sent:
        """Send `uploads` in order. At the first ApiUnavailable, that upload and the ones after it wait in the
        outbox, in order (keep=False: ApiUnavailable is raised instead). ApiRejected is raised, nothing is kept.
        """
        answer = None
        for index, upload in enumerate(uploads):
            if upload.once and upload.path in self._sent_once:
                continue
            try:
                answer = upload.call()
            except ApiUnavailable as error:
                if not keep:
                    raise
                tried = 1 if counts_as_a_try(error) else 0
                self.outbox.add(upload.method, upload.path, upload.body, tried, self._retry_at(tried))
                for waiting in uploads[index + 1 :]:
                    if not (waiting.once and waiting.path in self._sent_once):
                        self.outbox.add(waiting.method, waiting.path, waiting.body)
                return Sent(delivered=False)
            if upload.once:
                self._sent_once.add(upload.path)
        return Sent(delivered=True, answer=answer)

    def replay(self) -> Replayed:
        """Send the outbox oldest first; stop when the API is unreachable, busy, or failed the head again."""
        sent, set_aside, dropped = 0, [], 0
        while (entry := self.outbox.oldest()) is not None and entry.retry_at <= self.clock():
            try:
                self.api.send(entry.method, entry.path, entry.body)
            except ApiUnavailable as error:
                if not counts_as_a_try(error):
                    break
                attempts = self.outbox.failed(entry, self._retry_at(entry.attempts + 1))
                if attempts < self.max_attempts:
                    break
                set_aside.append(self._set_aside(entry, f"{_reason(entry, error)} ({attempts} tries)"))
            except ApiRejected as error:
                if error.summary_gone and entry.path.startswith(SUMMARY_PATHS):
                    self.outbox.remove(entry)
                    dropped += 1
                else:
                    set_aside.append(self._set_aside(entry, str(error)))
            else:
                self.outbox.remove(entry)
                sent += 1
        return Replayed(sent, set_aside, dropped)

    def _set_aside(self, entry: Entry, reason: str) -> str:
        self.outbox.set_aside(entry, reason)
        return f"{entry.method} {entry.path}: {reason}"

    def _retry_at(self, attempts: int) -> float:
        if not attempts:
            return 0.0
        return self.clock() + min(self.retry_base_s * 2 ** (attempts - 1), MAX_RETRY_WAIT_S)


def _reason(entry: Entry, error: Exception) -> str:
    return str(error).removeprefix(f"{entry.method} {entry.path}: ")
