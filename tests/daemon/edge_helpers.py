"""Starting an edge worker against a local stack, for tests."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from stack_helpers import make_token, queued

from edge_worker.config import EdgeConfig
from edge_worker.runtime import build_worker
from edge_worker.worker import EdgeWorker
from schemas.system_definition import default_systems_dir


@contextlib.contextmanager
def edge_worker(
    stack, translator, state_dir: Path, systems_dirs: list[Path] | None = None, api_url: str | None = None, **settings
) -> Iterator[EdgeWorker]:
    config = EdgeConfig(
        api_url=api_url or stack.api_url,
        queue_url=stack.resolved("EdgeQueue"),
        backfill_queue_url=stack.resolved("BackfillQueue"),
        query_queue_url=stack.resolved("QueryQueue"),
        systems_dirs=systems_dirs or [default_systems_dir()],
        shipped_systems=not systems_dirs,
        state_dir=state_dir,
        **{"wait_seconds": 1, "visibility_seconds": 30, "reconcile_seconds": 3600, "flush_seconds": 0.5, **settings},
    )
    token = make_token(stack, ["edge"], name=f"edge-{state_dir.name}")
    worker = build_worker(config, token=token, translator=translator, sqs=stack.client("sqs")).start()
    try:
        yield worker
    finally:
        worker.stop()


EDGE_QUEUES = ("EdgeQueue", "BackfillQueue", "QueryQueue")


def edge_busy(stack, *workers: EdgeWorker) -> Callable[[], bool]:
    """Work the edge holds (for stack_helpers.wait_for_stack): messages on its queues, whether visible, being worked
    on or delayed, and uploads waiting in the workers' outboxes."""
    return lambda: queued(stack, *EDGE_QUEUES) or any(w.outbox.size() for w in workers)


class SlowTranslator:
    """A real translator at one token per `delay_s`, as a large model on a slow machine."""

    def __init__(self, inner, delay_s: float = 0.2) -> None:
        self.inner, self.delay_s, self.started = inner, delay_s, threading.Event()
        self.model_version, self.model_info = inner.model_version, inner.model_info
        self.model, self.tokenizer = inner.model, inner.tokenizer  # the embedder pools this model

    def translate(self, summary_id: str, summary_text: str, systems: list, checkpoint=None) -> list:
        return self.inner.translate(summary_id, summary_text, systems, checkpoint=self._slowly(checkpoint))

    def adapter_versions(self, systems=()) -> dict[str, str]:
        return dict(self.inner.adapter_versions(systems))

    def served(self, system):
        return self.inner.served(system)

    def translate_many(self, jobs: list, *, checkpoint=None, batch_size: int | None = None) -> list:
        return self.inner.translate_many(jobs, checkpoint=self._slowly(checkpoint), batch_size=batch_size)

    def _slowly(self, checkpoint):
        def slow_checkpoint() -> bool:
            self.started.set()
            time.sleep(self.delay_s)
            return bool(checkpoint and checkpoint())

        return slow_checkpoint
