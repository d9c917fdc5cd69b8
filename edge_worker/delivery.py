"""Delivery to the API: send now, else keep in the outbox; replay the outbox, in order, once the API is back."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge_worker.api_client import ApiRejected, ApiUnavailable, body_of
from edge_worker.outbox import Outbox
from edge_worker.ports import CloudApi
from schemas import routes
from schemas.edge_api import EmbeddingUpload, RecordUpload, RegistryUpload


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
    """Nothing the edge produced is lost while the API is away: what cannot be sent now waits in the outbox."""

    def __init__(self, api: CloudApi, outbox: Outbox) -> None:
        self.api, self.outbox = api, outbox
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
            except ApiUnavailable:
                if not keep:
                    raise
                for waiting in uploads[index:]:
                    if not (waiting.once and waiting.path in self._sent_once):
                        self.outbox.add(waiting.method, waiting.path, waiting.body)
                return Sent(delivered=False)
            if upload.once:
                self._sent_once.add(upload.path)
        return Sent(delivered=True, answer=answer)

    def replay(self) -> tuple[int, list[str]]:
        """Send the outbox oldest first; stop at the first unreachable send. A rejected entry is dropped.

        Returns (entries sent or dropped, one problem line per rejected entry).
        """
        sent, rejected = 0, []
        while (entry := self.outbox.oldest()) is not None:
            try:
                self.api.send(entry.method, entry.path, entry.body)
            except ApiUnavailable:
                break
            except ApiRejected as error:
                rejected.append(f"{entry.method} {entry.path}: {error}")
            self.outbox.remove(entry)
            sent += 1
        return sent, rejected
