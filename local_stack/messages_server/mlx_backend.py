"""Replies from a local MLX model, with the Messages API's prompt caching done by mlx-lm's LRUPromptCache."""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edge_worker.model_thread import Cancelled, ModelThread
from local_stack.messages_server.backend import Outcome, reply
from local_stack.messages_server.protocol import Generation, cached_prefix, text_of

PREFILL_STEP = 512


class MlxBackend:
    """Replies from a local MLX model (greedy, bounded length), one generation at a time, the model prepared as the
    edge runs it on this device (`edge_worker.translator.for_this_device`: on a CPU about twice as fast).

    Like the real API's prompt caching, a system prompt marked with cache_control is prefilled
    once; later calls start from a copy of its KV cache and report it as cache_read_input_tokens.
    The KV caches of the last `cached_prefixes` such prompts are kept (mlx_lm.models.cache.LRUPromptCache).
    Raises FileNotFoundError when `model_path` is not a folder.
    """

    def __init__(self, model_path: str, max_tokens: int = 512, cached_prefixes: int = 4):
        from mlx_lm import load
        from mlx_lm.models.cache import LRUPromptCache

        from edge_worker.translator import for_this_device

        if not Path(model_path).is_dir():
            raise FileNotFoundError(f"model folder not found: {model_path}")
        self.model_path = model_path
        self.max_tokens = max_tokens
        model, self._tokenizer = load(model_path)
        self._model = for_this_device(model)
        self._system_role = _template_takes_system_role(self._tokenizer)
        self._model_thread = ModelThread("messages-model")  # request threads come and go; MLX work stays on one
        self._closing = threading.Event()
        self._prefixes = LRUPromptCache(max_size=cached_prefixes)  # used on the model thread only

    def decide(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> Outcome:
        return reply()

    def generate(self, body: Mapping[str, Any], model: str) -> Generation:
        return self._model_thread.call(self._generate, body)

    def count_tokens(self, body: Mapping[str, Any]) -> int:
        return self._model_thread.call(lambda: len(self._tokens(self._chat(body), add_generation_prompt=True)))

    def close(self) -> bool:
        self._closing.set()
        return self._model_thread.close(timeout=5)

    def _chat(self, body: Mapping[str, Any]) -> list[dict[str, str]]:
        """The request as chat turns. A template without a system role gets the system text at the start of the
        first user turn, a blank line after it (what Gemma 3's own template does with a system message)."""
        chat = [
            {"role": message.get("role", "user"), "content": text_of(message.get("content"))}
            for message in body.get("messages", [])
        ]
        system = text_of(body.get("system"))
        if not system:
            return chat
        if self._system_role:
            return [{"role": "system", "content": system}, *chat]
        if chat and chat[0]["role"] == "user":
            return [{"role": "user", "content": f"{system}\n\n{chat[0]['content']}"}, *chat[1:]]
        return [{"role": "user", "content": system}, *chat]

    def _tokens(self, chat: list[dict[str, str]], add_generation_prompt: bool) -> list[int]:
        tokens = self._tokenizer.apply_chat_template(chat, add_generation_prompt=add_generation_prompt, tokenize=True)
        return list(tokens["input_ids"] if isinstance(tokens, Mapping) else tokens)

    def _cacheable_prefix(self, body: Mapping[str, Any], prompt: list[int]) -> list[int]:
        """Tokens of the system turn when it is marked for caching and is a strict prefix of the prompt (never when
        the template has no system turn)."""
        if not cached_prefix(body) or not self._system_role:
            return []
        prefix = self._tokens(self._chat(body)[:1], add_generation_prompt=False)
        return prefix if len(prefix) < len(prompt) and prompt[: len(prefix)] == prefix else []

    def _prefix_cache(self, prefix: list[int]) -> tuple[list[Any], bool]:
        """A private copy of the KV cache after `prefix`, and whether that prefix was already cached whole."""
        import mlx.core as mx
        from mlx_lm.models.cache import make_prompt_cache

        cache, rest = self._prefixes.fetch_nearest_cache(self.model_path, prefix)
        if cache is not None and not rest:
            return cache, True
        if cache is None:
            cache, rest = make_prompt_cache(self._model), prefix
        for start in range(0, len(rest), PREFILL_STEP):
            self._model(mx.array(rest[start : start + PREFILL_STEP])[None], cache=cache)
            mx.eval([entry.state for entry in cache])
        self._prefixes.insert_cache(self.model_path, prefix, copy.deepcopy(cache), cache_type="system")
        return cache, False

    def _generate(self, body: Mapping[str, Any]) -> Generation:
        from mlx_lm import stream_generate

        if self._closing.is_set():
            raise Cancelled("the server is stopping")
        limit = min(int(body.get("max_tokens", self.max_tokens)), self.max_tokens)
        prompt = self._tokens(self._chat(body), add_generation_prompt=True)
        prefix = self._cacheable_prefix(body, prompt)
        options: dict[str, Any] = {}
        hit = False
        if prefix:
            options["prompt_cache"], hit = self._prefix_cache(prefix)
        pieces, finish, generated = [], None, 0
        stream = stream_generate(self._model, self._tokenizer, prompt[len(prefix) :], max_tokens=limit, **options)
        with contextlib.closing(stream):  # its MLX stream context must end on this thread
            for response in stream:
                if self._closing.is_set():
                    raise Cancelled("the server is stopping")
                pieces.append(response.text)
                generated = response.generation_tokens
                finish = response.finish_reason
        return Generation(
            text="".join(pieces),
            input_tokens=len(prompt) - len(prefix),
            output_tokens=generated,
            stop_reason="max_tokens" if finish == "length" else "end_turn",
            cache_creation_input_tokens=0 if hit else len(prefix),
            cache_read_input_tokens=len(prefix) if hit else 0,
        )


def _template_takes_system_role(tokenizer: Any) -> bool:
    """False when the chat template refuses a system message (it raises, e.g. "System role not supported")."""
    probe = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    try:
        tokenizer.apply_chat_template(probe, add_generation_prompt=True, tokenize=False)
    except Exception:  # jinja2's TemplateError from the template's raise_exception, whatever its wording
        return False
    return True
