"""Plays the edge worker through the edge API for the dashboard's tests and screenshots: publishes the shipped
systems with a hand-made lineage, reads EdgeQueue, and writes records."""

from __future__ import annotations

from collections.abc import Callable

from stack_helpers import api_client, make_token

from schemas.contracts import TranslateRequest
from schemas.lineage import content_version
from schemas.system_definition import SystemDefinition, default_systems_dir, load_system

TRANSLATOR_MODEL = {"model_id": "hand-written-translations", "weights_digest": "none"}


def shipped_system(name: str) -> SystemDefinition:
    return load_system(default_systems_dir() / f"{name}.json")


class EdgeByHand:
    def __init__(
        self,
        stack,
        systems: tuple[str | SystemDefinition, ...] = ("planner",),
        translator_model: dict | None = None,
        name: str = "edge-by-hand",
    ) -> None:
        """`systems`: shipped system names, or definitions of systems a user adds; `translator_model`: the registry
        content of the model it claims to translate with; `name`: its token's name (the edge's name)."""
        self.stack = stack
        self.translator_model = translator_model or TRANSLATOR_MODEL
        definitions = [shipped_system(s) if isinstance(s, str) else s for s in systems]
        self.systems = {definition.name: definition for definition in definitions}
        self.api = api_client(stack, make_token(stack, ["edge"], name=name))
        self.queue_url = stack.resolved("EdgeQueue")
        self.translations = 0
        self.done: set[tuple[str, str, str]] = set()  # (request_id, summary_id, system) already written

    def prompt(self, system: str) -> dict:
        return {"template": "written by the test", "instructions": self.systems[system].instructions}

    def publish(self) -> None:
        for name, definition in self.systems.items():
            for kind, content in (
                ("translator-model", self.translator_model),
                ("translator-prompt", self.prompt(name)),
                ("schema", definition.schema),
            ):
                response = self.api.put(
                    f"/edge/registry/{content_version(kind, content)}", json={"kind": kind, "content": content}
                )
                assert response.status_code in (200, 201), response.text
            response = self.api.put(f"/edge/systems/{name}", json=definition.to_dict())
            assert response.status_code == 200, response.text

    def lineage(self, system: str = "planner") -> dict[str, str]:
        return {
            "translator_model_version": content_version("translator-model", self.translator_model),
            "translator_prompt_version": content_version("translator-prompt", self.prompt(system)),
            "schema_version": self.systems[system].schema_version,
        }

    def document(self, events: int = 0) -> dict:
        """A planner document whose task title counts the translations made so far."""
        self.translations += 1
        return {
            "tasks": [
                {
                    "title": f"Book the dentist (translation {self.translations})",
                    "due": None,
                    "priority": "medium",
                    "status": "todo",
                }
            ],
            "events": [{"title": "Dentist", "start": "2026-11-27T09:00:00Z"}][:events],
        }

    def put(
        self,
        summary_id: str,
        document: dict,
        request_id: str | None = None,
        system: str = "planner",
        translate_ms: int | None = None,
        adapter_version: str | None = None,
    ) -> int:
        current = self.api.get(f"/edge/summaries/{summary_id}").json()["systems"].get(system, {})
        body = {
            "document": document,
            "lineage": self.lineage(system)
            | ({"translator_adapter_version": adapter_version} if adapter_version else {}),
            "expected_version": int(current.get("version", 0)),
            "request_id": request_id,
            "translate_ms": translate_ms,
        }
        response = self.api.put(f"/edge/summaries/{summary_id}/systems/{system}", json=body)
        assert response.status_code in (200, 201), response.text
        if request_id:
            self.done.add((request_id, summary_id, system))
        return response.json()["version"]

    def heartbeat(self, **fields) -> None:
        """PUT /edge/heartbeat naming its translator model, with any other Heartbeat fields (state, job, queue)."""
        body = {
            "model_id": self.translator_model["model_id"],
            "model_version": content_version("translator-model", self.translator_model),
            **fields,
        }
        response = self.api.put("/edge/heartbeat", json=body)
        assert response.status_code == 200, response.text

    def drain(self, make: Callable[[str, str], dict] | None = None) -> list[TranslateRequest]:
        """Handle every queued request: refreshes always re-translate, others only fill in missing records.
        `make(system, summary_id)` gives the document to write (default: a planner document with one event)."""
        make = make or (lambda system, summary_id: self.document(events=1))
        handled = []
        sqs = self.stack.client("sqs")
        while True:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []
            )
            if not messages:
                return handled
            for message in messages:
                request = TranslateRequest.model_validate_json(message["Body"])
                stored = self.api.get(f"/edge/summaries/{request.summary_id}").json()["systems"]
                for system in [request.system] if request.system else list(self.systems):
                    if (request.request_id, request.summary_id, system) in self.done:
                        continue  # written already for this request (like the edge, never twice)
                    if system in self.systems and (request.reason == "refresh" or system not in stored):
                        refresh_id = request.request_id if request.reason == "refresh" else None
                        self.put(request.summary_id, make(system, request.summary_id), refresh_id, system)
                handled.append(request)
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
