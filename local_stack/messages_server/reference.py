"""Replies written in advance for known requests (the demo's sample sessions); any other call goes to a fallback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from local_stack.messages_server.backend import Backend, Outcome
from local_stack.messages_server.protocol import Generation, estimate_tokens, text_of


class ReferenceBackend:
    """Answers a call whose messages contain a key of `references` with that key's text, as model `model_id`;
    every other call, and every decision, goes to `fallback`.

    references: {text the request's messages hold (e.g. a rendered session): the reply}. Usage is counted at
    about four characters a token (`estimate_tokens`), so a reply never waits for the fallback's model.
    """

    def __init__(self, references: Mapping[str, str], fallback: Backend, model_id: str):
        self.references = dict(references)
        self.fallback = fallback
        self.model_id = model_id

    def decide(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> Outcome:
        return self.fallback.decide(body, headers)

    def generate(self, body: Mapping[str, Any], model: str) -> Generation:
        asked = "\n".join(text_of(m.get("content")) for m in body.get("messages", []) if isinstance(m, dict))
        text = next((reply for key, reply in self.references.items() if key in asked), None)
        if text is None:
            return self.fallback.generate(body, model)
        prompt = "\n".join(part for part in (text_of(body.get("system")), asked) if part)
        return Generation(text, estimate_tokens(prompt), estimate_tokens(text), model=self.model_id)

    def count_tokens(self, body: Mapping[str, Any]) -> int:
        return self.fallback.count_tokens(body)

    def close(self) -> bool:
        return self.fallback.close()
