"""Deterministic replies plus scripted failures, for tests and `--llm scripted`."""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from local_stack.messages_server.backend import Outcome, reply
from local_stack.messages_server.protocol import Generation, cached_prefix, estimate_tokens, prompt_text, text_of


@dataclass
class _Rule:
    when: str | None
    queue: deque[Outcome]
    persistent: Outcome | None


class ScriptedBackend:
    """Deterministic replies plus scripted failures, matched per call or per text in the prompt.

    `script(outcomes, when=...)` queues one outcome per matching call; `always(outcome, when=...)`
    applies to every matching call. Keyed rules win over unkeyed ones, queues over `always`.
    """

    def __init__(self, keep_requests: int = 10_000):
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._calls = 0
        self._calls_by_key: dict[str, int] = {}
        self._seen_prefixes: set[str] = set()
        self.requests: deque[dict[str, Any]] = deque(maxlen=keep_requests)

    def script(self, outcomes: Iterable[Outcome], when: str | None = None) -> ScriptedBackend:
        with self._lock:
            self._rule(when).queue.extend(outcomes)
        return self

    def always(self, outcome: Outcome, when: str | None = None) -> ScriptedBackend:
        with self._lock:
            self._rule(when).persistent = outcome
        return self

    def reset(self) -> None:
        with self._lock:
            self._rules.clear()
            self._calls = 0
            self._calls_by_key.clear()
            self._seen_prefixes.clear()
            self.requests.clear()

    @property
    def calls(self) -> int:
        with self._lock:
            return self._calls

    def calls_matching(self, text: str) -> int:
        """Calls whose prompt contained `text` (exact for scripted keys, else over kept requests)."""
        with self._lock:
            if text in self._calls_by_key:
                return self._calls_by_key[text]
            return sum(1 for request in self.requests if text in request["prompt"])

    def _rule(self, when: str | None) -> _Rule:
        for rule in self._rules:
            if rule.when == when:
                return rule
        rule = _Rule(when, deque(), None)
        self._rules.append(rule)
        if when is not None:
            self._calls_by_key.setdefault(when, 0)
        return rule

    def decide(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> Outcome:
        prompt = prompt_text(body)
        with self._lock:
            self._calls += 1
            self.requests.append({"body": dict(body), "headers": dict(headers), "prompt": prompt})
            for key in self._calls_by_key:
                if key in prompt:
                    self._calls_by_key[key] += 1
            keyed = [rule for rule in self._rules if rule.when is not None and rule.when in prompt]
            unkeyed = [rule for rule in self._rules if rule.when is None]
            for rules in (keyed, unkeyed):
                for rule in rules:
                    if rule.queue:
                        return rule.queue.popleft()
                for rule in rules:
                    if rule.persistent is not None:
                        return rule.persistent
        return reply()

    def generate(self, body: Mapping[str, Any], model: str) -> Generation:
        prompt = prompt_text(body)
        digest = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]
        messages = body.get("messages") or [{}]
        last = text_of(messages[-1].get("content")) if isinstance(messages[-1], dict) else ""
        excerpt = " ".join(last.split())[-160:]
        text = (
            f"Scripted summary {digest}. The request held {len(messages)} message(s) and "
            f"{len(prompt)} characters. It ends with: {excerpt}"
        )
        prefix = cached_prefix(body)
        with self._lock:
            cache_hit = bool(prefix) and prefix in self._seen_prefixes
            if prefix:
                self._seen_prefixes.add(prefix)
        prefix_tokens = estimate_tokens(prefix)
        return Generation(
            text=text,
            input_tokens=max(estimate_tokens(prompt) - prefix_tokens, 1),
            output_tokens=estimate_tokens(text),
            cache_creation_input_tokens=0 if cache_hit else prefix_tokens,
            cache_read_input_tokens=prefix_tokens if cache_hit else 0,
        )

    def count_tokens(self, body: Mapping[str, Any]) -> int:
        return estimate_tokens(prompt_text(body))

    def close(self) -> bool:
        return True
