"""Summaries per minute end to end on the local stack, and the share of wall time spent outside the model."""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.ingest import make_sessions
from bench.models import load_bench_model
from bench.progress import progress
from local_stack.messages_server import ScriptedBackend, start_messages_server
from local_stack.stack import LocalStack, StackOptions
from schemas.system_definition import default_systems_dir, load_systems

LLM_ENV = {
    "ANTHROPIC_API_KEY": "local-bench",
    "SUMMARIZER_MODEL_ID": "local-scripted",
    "LLM_MAX_RETRIES": "0",
    "LLM_TIMEOUT_SECONDS": "30",
}


class TimedTranslator:
    """The real translator and embedder, with the wall-clock intervals they spend in the model recorded."""

    def __init__(self, translator: Any, embedder: Any) -> None:
        self.inner, self.embedder = translator, embedder
        self.model_version, self.model_info = translator.model_version, translator.model_info
        self.version, self.dims = embedder.version, embedder.dims  # the embedder side of the worker
        self.intervals: list[tuple[float, float]] = []
        self.generated_tokens = 0
        self._lock = threading.Lock()

    def translate(self, summary_id: str, summary_text: str, systems: list, checkpoint=None) -> list:
        from edge_worker.jobs import TranslationJob

        [translations] = self.translate_many([TranslationJob(summary_id, summary_text, systems)], checkpoint=checkpoint)
        return translations

    def adapter_versions(self, systems: Any = ()) -> dict[str, str]:
        return dict(self.inner.adapter_versions(systems))

    def served(self, system: Any) -> Any:
        return self.inner.served(system)

    def translate_many(self, jobs: list, *, checkpoint=None, batch_size: int | None = None) -> list:
        started = time.perf_counter()
        outcomes = self.inner.translate_many(jobs, checkpoint=checkpoint, batch_size=batch_size)
        with self._lock:
            self.intervals.append((started, time.perf_counter()))
            self.generated_tokens += sum(
                t.stats.generated_tokens for row in outcomes for t in row if hasattr(t, "stats")
            )
        return outcomes

    def embed(self, text: str) -> list[float]:
        started = time.perf_counter()
        vector = self.embedder.embed(text)
        with self._lock:
            self.intervals.append((started, time.perf_counter()))
        return vector

    def registry_content(self) -> dict[str, Any]:
        return self.embedder.registry_content()

    def seconds_between(self, start: float, end: float) -> float:
        with self._lock:
            return sum(max(0.0, min(b, end) - max(a, start)) for a, b in self.intervals)


@contextlib.contextmanager
def _stack() -> Iterator[LocalStack]:
    server = start_messages_server(ScriptedBackend())
    stack = LocalStack(StackOptions(extra_env={**LLM_ENV, "ANTHROPIC_BASE_URL": server.url}))
    try:
        stack.start()
        with stack.aws_environment_applied():
            yield stack
    finally:
        stack.stop()
        server.stop()


@contextlib.contextmanager
def _worker(stack: LocalStack, translator: TimedTranslator, state_dir: Path) -> Iterator[Any]:
    """An edge worker in this process, as the edge worker tests start one."""
    from edge_worker.config import EdgeConfig
    from edge_worker.runtime import build_worker
    from functions.stores.tokens import TokenStore

    config = EdgeConfig(
        api_url=stack.api_url,
        queue_url=stack.resolved("EdgeQueue"),
        backfill_queue_url=stack.resolved("BackfillQueue"),
        systems_dirs=[default_systems_dir()],
        state_dir=state_dir,
        wait_seconds=1,
        visibility_seconds=600,
        reconcile_seconds=3600,
        flush_seconds=0.5,
    )
    token = TokenStore(stack.resolved("TokensTable")).create("bench-edge", ["edge"])
    worker = build_worker(
        config, token=token, translator=translator, sqs=stack.client("sqs"), embedder=translator
    ).start()
    try:
        yield worker
    finally:
        worker.stop()


def _wait_for(condition, timeout: float, worker: Any) -> None:
    deadline, errors_before = time.monotonic() + timeout, worker.status.last_error_at
    while not condition():
        if worker.status.last_error_at != errors_before:  # a failed job would only come back after its lease
            raise RuntimeError(f"edge throughput: the worker failed: {worker.status.last_error}")
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"edge throughput: not done within {timeout:.0f}s; worker's last error: {worker.status.last_error}"
            )
        time.sleep(0.02)


def _post_and_wait(
    stack: LocalStack, tokens: dict[str, str], worker: Any, sessions: list[dict[str, Any]], records: int, timeout: float
) -> None:
    done_before = worker.status.stored + worker.status.unchanged
    with httpx.Client(base_url=stack.api_url, timeout=60) as client:
        for session in sessions:
            response = client.post(
                "/sessions", json=session, headers={"authorization": f"Bearer {tokens[session['source']]}"}
            )
            response.raise_for_status()
    _wait_for(lambda: worker.status.stored + worker.status.unchanged - done_before >= records, timeout, worker)


def _valid_records(stack: LocalStack, session_ids: list[str], systems: dict[str, Any]) -> int:
    from functions.stores.tokens import TokenStore

    token = TokenStore(stack.resolved("TokensTable")).create("bench-reader", ["read"])
    valid = 0
    with httpx.Client(base_url=stack.api_url, headers={"authorization": f"Bearer {token}"}, timeout=30) as client:
        for session_id in session_ids:
            for record in client.get(f"/summaries/{session_id}").json().get("records", []):
                valid += not systems[record["system"]].validation_errors(record["document"])
    return valid


def run(quick: bool, sessions_count: int, max_tokens: int) -> dict[str, Any]:
    from edge_worker.translator import Translator

    systems = load_systems().systems
    expected = sessions_count * len(systems)
    with tempfile.TemporaryDirectory() as scratch:
        loaded = load_bench_model(quick, Path(scratch))
        from edge_worker.embedder import Embedder

        translator = TimedTranslator(
            Translator(loaded.model, loaded.tokenizer, loaded.info, max_tokens=max_tokens),
            Embedder(loaded.model, loaded.tokenizer, loaded.info),
        )
        progress("edge: preparing the translator (grammar tokenizer, grammars)")
        translator.inner.prepare(systems.values())
        progress("edge: starting the local stack with a scripted summarizer")
        with _stack() as stack, _worker(stack, translator, Path(scratch) / "edge") as worker:
            from bench.ingest import ingest_tokens

            tokens = ingest_tokens(stack)
            if quick:  # with a real model one more translation costs minutes; there the cold starts are a small share
                progress("edge: one warm-up session end to end (starts the functions' worker processes)")
                _post_and_wait(stack, tokens, worker, make_sessions("bench-edge-warm", 1), len(systems), 300)
            sessions = make_sessions("bench-edge", sessions_count)
            progress(
                f"edge: posting {sessions_count} session(s); the worker translates each for {len(systems)} systems"
            )
            started = time.perf_counter()
            _post_and_wait(stack, tokens, worker, sessions, expected, 300 if quick else 3600)
            wall = time.perf_counter() - started
            model_seconds = translator.seconds_between(started, started + wall)
            first_translation = min((a for a, _ in translator.intervals if a >= started), default=started)
            valid = _valid_records(stack, [s["session_id"] for s in sessions], systems)
    return {
        "model": loaded.label,
        "sessions": sessions_count,
        "functions_warm": quick,
        "systems": len(systems),
        "max_tokens_per_system": max_tokens,
        "wall_seconds": round(wall, 3),
        "translator_seconds": round(model_seconds, 3),
        "overhead_seconds": round(wall - model_seconds, 3),
        "overhead_share": round((wall - model_seconds) / wall, 4),
        "first_translation_after_seconds": round(first_translation - started, 3),
        "summaries_per_minute": round(sessions_count / wall * 60, 2),
        "system_documents_per_minute": round(expected / wall * 60, 2),
        "generated_tokens": translator.generated_tokens,
        "schema_valid_records": valid,
        "expected_records": expected,
    }
