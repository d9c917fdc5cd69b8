"""In-memory fakes of the edge worker's clients: the cloud API, SQS, the translator and the embedder.

Each keeps to the contract of the real one (edge_worker.ports) closely enough for the worker's decisions:
the API's optimistic concurrency (409 on a stale expected_version, "unchanged" for the same document),
SQS visibility (a received message is invisible until deleted, released or timed out).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

from edge_worker.api_client import ApiRejected, ApiUnavailable
from edge_worker.model_thread import Cancelled
from schemas import routes
from schemas.edge_api import (
    EdgeSummary,
    EmbeddingStored,
    EmbeddingUpload,
    Heartbeat,
    HeartbeatReply,
    PendingPage,
    QueryEmbeddingStored,
    QueryEmbeddingUpload,
    RecordStored,
    RecordUpload,
    RegistryStored,
    RegistryUpload,
    SystemPublished,
)
from schemas.lineage import content_version


def _route_pattern(route: str) -> re.Pattern[str]:
    """A schemas.routes template as a regular expression with one named group per parameter."""
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(route)) + "$")


_RECORD = _route_pattern(routes.EDGE_RECORD)
_EMBEDDING = _route_pattern(routes.EDGE_EMBEDDING)
_REGISTRY = _route_pattern(routes.EDGE_REGISTRY)
_SYSTEM = _route_pattern(routes.EDGE_SYSTEM)
_REGISTERED_LINEAGE = ("translator_model_version", "translator_prompt_version")  # the edge registers these


class FakeApi:
    """The edge routes over dicts, taking and answering the contracts of schemas.edge_api like EdgeApi.

    `available=False` makes every call raise ApiUnavailable (a lost network); methods in `refused` (e.g. {"PUT"})
    are cut off alone. `rejections` answers every request to a path with an HTTP status: 4xx as ApiRejected, 5xx
    and 429 as ApiUnavailable with that status, as EdgeApi raises them.
    """

    def __init__(self) -> None:
        self.available = True
        self.refused: set[str] = set()
        self.summaries: dict[str, dict[str, Any]] = {}
        self.documents: dict[tuple[str, str], list[dict[str, Any]]] = {}  # every stored version, oldest first
        self.registry: dict[str, dict[str, Any]] = {}
        self.systems: dict[str, dict[str, Any]] = {}
        self.sent: list[tuple[str, str]] = []  # (method, path) of every request that reached the API
        self.heartbeats: list[str] = []
        self.beats: list[Heartbeat] = []
        self.uploads: list[RecordUpload] = []  # every record upload that reached the API
        self.completed: set[tuple[str, str, str]] = set()  # (request id, summary id, system) of each stored upload
        self.query_vectors: dict[str, dict[str, Any]] = {}
        self.rejections: dict[str, tuple] = {}  # path -> (status, message[, error code]) for every request to it
        self.before_record: Callable[[str, str], None] | None = None  # runs before a record upload is judged

    def add_summary(self, summary_id: str, text: str = "The user booked a dentist visit on Friday.") -> None:
        self.summaries[summary_id] = {
            "summary_id": summary_id,
            "source": "planner",
            "text": text,
            "systems": {},
            "embedding_version": None,
        }

    def store_record(self, summary_id: str, system: str, document: dict[str, Any], lineage: dict[str, str]) -> None:
        """What another writer stores: the next version of a record."""
        versions = self.documents.setdefault((summary_id, system), [])
        versions.append(document)
        self.summaries[summary_id]["systems"][system] = {
            "version": len(versions),
            "updated_at": "2026-11-24T09:00:00.000Z",
            "document_hash": _digest(document, 64),
            **lineage,
        }

    # ----- the routes -----
    def summary(self, summary_id: str, request_id: str | None = None) -> EdgeSummary:
        self._reach("GET", routes.path(routes.EDGE_SUMMARY, summary_id=summary_id))
        if summary_id not in self.summaries:
            raise ApiRejected(404, {"error": "not_found", "message": f"no summarized session {summary_id}"})
        done = sorted(s for r, i, s in self.completed if request_id and (r, i) == (request_id, summary_id))
        return EdgeSummary.model_validate({**self._copy(summary_id), "stored_for_request": done})

    def pending_page(self, next_token: str | None = None, limit: int = 100) -> PendingPage:
        self._reach("GET", routes.EDGE_PENDING)
        ids = sorted(self.summaries)
        start = int(next_token or 0)
        page = [self._copy(i) for i in ids[start : start + limit]]
        more = start + limit < len(ids)
        return PendingPage.model_validate({"items": page, "next": str(start + limit) if more else None})

    def put_query_embedding(self, query_id: str, upload: QueryEmbeddingUpload) -> QueryEmbeddingStored:
        self._reach("PUT", routes.path(routes.EDGE_QUERY_EMBEDDING, query_id=query_id))
        self.query_vectors[query_id] = upload.model_dump(mode="json")
        return QueryEmbeddingStored(query_id=query_id, embedding_version=upload.embedding_version)

    def heartbeat(self, beat: Heartbeat) -> HeartbeatReply:
        self._reach("PUT", routes.EDGE_HEARTBEAT)
        self.heartbeats.append(beat.embedding_version)
        self.beats.append(beat)
        return HeartbeatReply(embedding_version=beat.embedding_version, changed=False)

    def put_record(self, summary_id: str, system: str, upload: RecordUpload) -> RecordStored:
        self._reach("PUT", routes.path(routes.EDGE_RECORD, summary_id=summary_id, system=system))
        self.uploads.append(upload)
        if self.before_record:
            self.before_record(summary_id, system)
        if summary_id not in self.summaries:
            raise ApiRejected(404, {"error": "not_found", "message": f"no summarized session {summary_id}"})
        state = self.summaries[summary_id]["systems"].get(system)
        current = int(state["version"]) if state else 0
        if upload.expected_version != current:
            raise ApiRejected(409, {"error": "stale_version", "message": f"at version {current}"})
        lineage = upload.lineage.model_dump()
        missing = [v for v in (lineage[k] for k in _REGISTERED_LINEAGE) if v not in self.registry]
        if missing:
            raise ApiRejected(422, {"error": "unknown_version", "message": f"{missing[0]} is not in the registry"})
        self.completed.add((upload.request_id or "", summary_id, system))
        versions = self.documents.get((summary_id, system), [])
        if versions and versions[-1] == upload.document:  # the cloud keeps the version, naming the new lineage
            self.summaries[summary_id]["systems"][system] = {**state, **lineage}
            return RecordStored(outcome="unchanged", version=current)
        self.store_record(summary_id, system, upload.document, lineage)
        return RecordStored(outcome="created" if current == 0 else "updated", version=current + 1)

    def put_registry(self, version_id: str, upload: RegistryUpload) -> RegistryStored:
        self._reach("PUT", routes.path(routes.EDGE_REGISTRY, version_id=version_id))
        if content_version(upload.kind, upload.content) != version_id:
            raise ApiRejected(422, {"error": "version_mismatch", "message": f"{version_id} is not its hash"})
        created = version_id not in self.registry
        self.registry[version_id] = {"kind": upload.kind, "content": upload.content}
        return RegistryStored(version_id=version_id, created=created)

    def put_system(self, name: str, definition: dict[str, Any]) -> SystemPublished:
        self._reach("PUT", routes.path(routes.EDGE_SYSTEM, system=name))
        changed = self.systems.get(name) != definition
        self.systems[name] = definition
        return SystemPublished(
            name=name,
            description=str(definition.get("description", "")),
            definition_version=f"system:{_digest(definition)}",
            schema_version=content_version("schema", definition.get("schema", {})),
            changed=changed,
        )

    def put_embedding(self, summary_id: str, upload: EmbeddingUpload) -> EmbeddingStored:
        self._reach("PUT", routes.path(routes.EDGE_EMBEDDING, summary_id=summary_id))
        self.summaries[summary_id]["embedding_version"] = upload.embedding_version
        return EmbeddingStored(summary_id=summary_id, embedding_version=upload.embedding_version)

    def send(self, method: str, path: str, body: Any) -> Any:
        """A stored request (the outbox), routed like the API routes it; its JSON answer."""
        answer: Any
        if match := _RECORD.match(path):
            answer = self.put_record(*_decoded(match, "summary_id", "system"), RecordUpload.model_validate(body))
        elif match := _EMBEDDING.match(path):
            answer = self.put_embedding(*_decoded(match, "summary_id"), EmbeddingUpload.model_validate(body))
        elif match := _REGISTRY.match(path):
            answer = self.put_registry(*_decoded(match, "version_id"), RegistryUpload.model_validate(body))
        elif match := _SYSTEM.match(path):
            answer = self.put_system(*_decoded(match, "system"), body)
        else:
            self._reach(method, path)
            raise ApiRejected(404, {"error": "not_found", "message": f"no route {method} {path}"})
        return answer.model_dump(mode="json")

    def close(self) -> None:
        pass

    def _reach(self, method: str, path: str) -> None:
        if not self.available or method in self.refused:
            raise ApiUnavailable(f"{method} {path}: connection refused")
        self.sent.append((method, path))
        if path in self.rejections:
            status, message, *code = self.rejections[path]
            if status >= 500 or status == 429:
                raise ApiUnavailable(f"{method} {path}: HTTP {status}: {message}", status)
            raise ApiRejected(status, {"error": code[0] if code else "rejected", "message": message})

    def _copy(self, summary_id: str) -> dict[str, Any]:
        return json.loads(json.dumps(self.summaries[summary_id]))


def _decoded(match: re.Match[str], *names: str) -> list[str]:
    return [unquote(match[name]) for name in names]


def _digest(value: Any, chars: int = 16) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:chars]


@dataclass
class _Message:
    id: str
    body: str
    receipt: str | None = None  # set while received and not yet visible again


class FakeSqs:
    """Queues by URL. A receive waits at most `max_wait_s` for a message (a short long-poll), whatever it asks."""

    def __init__(self, max_wait_s: float = 0.05) -> None:
        self.max_wait_s = max_wait_s
        self.queues: dict[str, list[_Message]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.failing: set[str] = set()  # operation names that raise (an unreachable SQS)
        self._ids = itertools.count(1)
        self._changed = threading.Condition()

    def send(self, queue_url: str, body: str) -> str:
        with self._changed:
            message = _Message(f"m-{next(self._ids)}", body)
            self.queues.setdefault(queue_url, []).append(message)
            self._changed.notify_all()
        return message.id

    def visible(self, queue_url: str) -> list[str]:
        with self._changed:
            return [m.body for m in self.queues.get(queue_url, []) if m.receipt is None]

    def in_flight(self, queue_url: str) -> list[str]:
        with self._changed:
            return [m.body for m in self.queues.get(queue_url, []) if m.receipt is not None]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Wait until `condition()` holds after some SQS call (or timeout)."""
        with self._changed:
            return self._changed.wait_for(condition, timeout)

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        self._record("receive_message", kwargs)
        with self._changed:
            self._changed.wait_for(lambda: self._ready(kwargs["QueueUrl"]), timeout=self.max_wait_s)
            ready = [m for m in self.queues.get(kwargs["QueueUrl"], []) if m.receipt is None]
            taken = ready[: kwargs.get("MaxNumberOfMessages", 1)]
            for message in taken:
                message.receipt = f"r-{next(self._ids)}"
            self._changed.notify_all()
        return {"Messages": [{"MessageId": m.id, "Body": m.body, "ReceiptHandle": m.receipt} for m in taken]}

    def change_message_visibility(self, **kwargs: Any) -> dict[str, Any]:
        self._record("change_message_visibility", kwargs)
        with self._changed:
            message = self._held(kwargs["QueueUrl"], kwargs["ReceiptHandle"])
            if kwargs["VisibilityTimeout"] == 0:
                message.receipt = None
            self._changed.notify_all()
        return {}

    def get_queue_attributes(self, **kwargs: Any) -> dict[str, Any]:
        self._record("get_queue_attributes", kwargs)
        with self._changed:
            messages = self.queues.get(kwargs["QueueUrl"], [])
            held = sum(m.receipt is not None for m in messages)
        counts = {"ApproximateNumberOfMessages": len(messages) - held, "ApproximateNumberOfMessagesNotVisible": held}
        return {"Attributes": {name: str(counts[name]) for name in kwargs["AttributeNames"]}}

    def delete_message(self, **kwargs: Any) -> dict[str, Any]:
        self._record("delete_message", kwargs)
        with self._changed:
            message = self._held(kwargs["QueueUrl"], kwargs["ReceiptHandle"])
            self.queues[kwargs["QueueUrl"]].remove(message)
            self._changed.notify_all()
        return {}

    def _record(self, operation: str, kwargs: dict[str, Any]) -> None:
        with self._changed:
            self.calls.append((operation, kwargs))
            self._changed.notify_all()
        if operation in self.failing:
            raise ConnectionError(f"{operation}: could not connect to the endpoint URL")

    def _ready(self, queue_url: str) -> bool:
        return any(m.receipt is None for m in self.queues.get(queue_url, []))

    def _held(self, queue_url: str, receipt: str) -> _Message:
        for message in self.queues.get(queue_url, []):
            if message.receipt == receipt:
                return message
        raise ValueError(f"ReceiptHandleIsInvalid: {receipt}")


@dataclass(frozen=True)
class FakeModelInfo:
    model_id: str = "fake-model"
    weights_digest: str = "sha256:fake"

    def registry_content(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "weights_digest": self.weights_digest}


@dataclass(frozen=True)
class FakeTranslation:
    system: str
    document: dict[str, Any]
    lineage: Any = None  # names the adapter it was made with, as a Translation's lineage does


@dataclass
class FakeTranslator:
    """Writes {"summary": <text>, "system": <name>} per system. With `hold`, the first translation waits, checking
    its checkpoint once per "token", until `hold` is set (it then goes on) or the checkpoint says stop (Cancelled).
    """

    model_info: FakeModelInfo = field(default_factory=FakeModelInfo)
    hold: threading.Event | None = None
    started: threading.Event = field(default_factory=threading.Event)
    calls: list[tuple[str, list[str]]] = field(default_factory=list)
    batches: list[list[str]] = field(default_factory=list)  # the summary ids of each translate_many call
    adapters: dict[str, str] = field(default_factory=dict)  # system -> adopted adapter version
    unfit: dict[str, str] = field(default_factory=dict)  # system -> why it cannot be translated (check)

    def check(self, system: Any) -> str | None:
        return self.unfit.get(system.name)

    def adapter_versions(self, systems: Any = ()) -> dict[str, str]:
        names = {system.name for system in systems}
        return {name: version for name, version in self.adapters.items() if not names or name in names}

    def served(self, system: Any) -> Any:
        return system

    @property
    def model_version(self) -> str:
        return content_version("translator-model", self.model_info.registry_content())

    def translate(
        self, summary_id: str, summary_text: str, systems: Sequence[Any], *, checkpoint: Callable[[], bool] | None
    ) -> list[FakeTranslation]:
        self.started.set()
        while self.hold is not None and not self.hold.wait(0.005):  # one "token"
            if checkpoint is not None and checkpoint():
                raise Cancelled("generation stopped")
        self.calls.append((summary_id, [s.name for s in systems]))
        return [
            FakeTranslation(
                s.name,
                {"summary": summary_text, "system": s.name},
                SimpleNamespace(translator_adapter_version=self.adapters.get(s.name)),
            )
            for s in systems
        ]

    def translate_many(
        self, jobs: Sequence[Any], *, checkpoint: Callable[[], bool] | None, batch_size: int | None = None
    ) -> list[list[FakeTranslation]]:
        self.batches.append([job.summary_id for job in jobs])
        return [self.translate(job.summary_id, job.summary_text, job.systems, checkpoint=checkpoint) for job in jobs]


@dataclass
class FakeEmbedder:
    """A 3-dimensional bag of letters; `version` names the method like the real one."""

    model_info: FakeModelInfo = field(default_factory=FakeModelInfo)
    embedded: list[str] = field(default_factory=list)

    @property
    def version(self) -> str:
        return content_version("embedding-model", self.registry_content())

    def registry_content(self) -> dict[str, Any]:
        return {**self.model_info.registry_content(), "method": "letter counts", "dims": 3}

    def embed(self, text: str) -> list[float]:
        self.embedded.append(text)
        counts = [float(sum(ch in group for ch in text.lower())) for group in ("aeiou", "lmnrs", "tdkpb")]
        norm = sum(c * c for c in counts) ** 0.5 or 1.0
        return [c / norm for c in counts]


EDGE_QUEUE = "http://sqs.local/000000000000/edge.fifo"
QUERY_QUEUE = "http://sqs.local/000000000000/queries"


@dataclass
class EdgeRig:
    api: FakeApi
    sqs: FakeSqs
    translator: FakeTranslator
    embedder: FakeEmbedder | None
    worker: Any  # edge_worker.worker.EdgeWorker


def edge_rig(
    state_dir: Any,
    *,
    embedder: bool = True,
    translator: FakeTranslator | None = None,
    loaded: bool = True,
    **settings: Any,
) -> EdgeRig:
    """An EdgeWorker over fakes, its loops not started; stop it when done. `loaded`: the shipped systems read
    already (as start() reads them, but without publishing them)."""
    from edge_worker.catalog import SystemCatalog
    from edge_worker.config import EdgeConfig
    from edge_worker.worker import EdgeWorker
    from schemas.system_definition import default_systems_dir

    config = EdgeConfig(
        api_url="http://api.local",
        queue_url=EDGE_QUEUE,
        state_dir=state_dir,
        systems_dirs=settings.pop("systems_dirs", [default_systems_dir()]),
        **{"wait_seconds": 1, "visibility_seconds": 30, "reconcile_seconds": 3600, "flush_seconds": 3600, **settings},
    )
    api, sqs = FakeApi(), FakeSqs()
    translator = translator or FakeTranslator()
    fake_embedder = FakeEmbedder() if embedder else None
    worker = EdgeWorker(
        config, api, translator, catalog=SystemCatalog(config.systems_dirs), sqs=sqs, embedder=fake_embedder
    )
    if loaded:
        worker.catalog.reload()
    return EdgeRig(api, sqs, translator, fake_embedder, worker)
