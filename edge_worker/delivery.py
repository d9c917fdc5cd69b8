"""Delivery to the API: send now, else keep in the outbox; replay the outbox, in order, once the API is back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge_worker.api_client import ApiRejected, ApiUnavailable
from edge_worker.outbox import Outbox
from edge_worker.ports import CloudApi


@dataclass(frozen=True)
class Request:
    """One API request, as the outbox stores it. `once`: content-addressed, so sent once per process."""

    method: str
    path: str
    body: Any
    once: bool = False


def registry_entry(version_id: str, kind: str, content: dict[str, Any]) -> Request:
    return Request("PUT", f"/edge/registry/{version_id}", {"kind": kind, "content": content}, once=True)


def record_upload(summary_id: str, system: str, body: dict[str, Any]) -> Request:
    return Request("PUT", f"/edge/summaries/{summary_id}/systems/{system}", body)


def embedding_upload(summary_id: str, body: dict[str, Any]) -> Request:
    return Request("PUT", f"/edge/summaries/{summary_id}/embedding", body)


def system_definition(name: str, definition: dict[str, Any]) -> Request:
    return Request("PUT", f"/edge/systems/{name}", definition)


@dataclass(frozen=True)
class Sent:
    """What became of a send: delivered now (with the API's answer to the last request) or kept in the outbox."""

    delivered: bool
    answer: Any = None


class Delivery:
    """Nothing the edge produced is lost while the API is away: what cannot be sent now waits in the outbox."""

    def __init__(self, api: CloudApi, outbox: Outbox) -> None:
        self.api, self.outbox = api, outbox
        self._sent_once: set[str] = set()

    def send(self, *requests: Request, keep: bool = True) -> Sent:
        """Send `requests` in order. At the first ApiUnavailable, that request and the ones after it wait in the
        outbox, in order (keep=False: ApiUnavailable is raised instead). ApiRejected is raised, nothing is kept.
        """
        answer = None
        for index, request in enumerate(requests):
            if request.once and request.path in self._sent_once:
                continue
            try:
                answer = self.api.send(request.method, request.path, request.body)
            except ApiUnavailable:
                if not keep:
                    raise
                for waiting in requests[index:]:
                    if not (waiting.once and waiting.path in self._sent_once):
                        self.outbox.add(waiting.method, waiting.path, waiting.body)
                return Sent(delivered=False)
            if request.once:
                self._sent_once.add(request.path)
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
