"""Load: concurrent clients post sessions while summarization runs; every accepted session is kept, none doubled.

Reduced size in `make test`; `make load` runs the full size (SSP_SUITE_SIZE=full).
"""

from __future__ import annotations

import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from counts import queue_depth, s3_keys, sessions_by_status
from report import report
from stack_helpers import make_token, running_stack, session_body, wait_for_stack
from suite_size import FULL

from local_stack.messages_server import ScriptedBackend

SESSIONS, CLIENTS = (1000, 8) if FULL else (60, 4)


def _post_with_retries(client: httpx.Client, body: dict) -> tuple[int, float]:
    started = time.perf_counter()
    for attempt in range(5):
        try:
            response = client.post("/sessions", json=body)
            if response.status_code < 500:
                return response.status_code, time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.2 * (attempt + 1))
    return 599, time.perf_counter() - started


def test_load_keeps_every_accepted_session_exactly_once():
    rng = random.Random(11)
    bodies = [session_body(f"load-{n:05d}", text=f"Load session {n}: {rng.random()}") for n in range(SESSIONS)]
    repeats = [bodies[i] for i in rng.sample(range(SESSIONS), SESSIONS // 10)]
    backend = ScriptedBackend()
    with running_stack(backend) as stack:
        token = make_token(stack, ["ingest"], source="planner")
        client = httpx.Client(base_url=stack.api_url, headers={"authorization": f"Bearer {token}"}, timeout=60)
        began = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(lambda body: _post_with_retries(client, body), bodies + repeats))
        posting_s = time.perf_counter() - began
        accepted = sum(1 for status, _ in results if status == 202)
        latencies = sorted(seconds for _, seconds in results)
        wait_for_stack(
            stack,
            lambda: (
                sessions_by_status(stack).get("SUMMARIZED", 0) + queue_depth(stack, "SummarizeDLQ") >= accepted
                and queue_depth(stack, "SummarizeQueue") == 0
            ),
            interval=1,
        )
        total_s = time.perf_counter() - began
        statuses = sessions_by_status(stack)
        stored, summaries = s3_keys(stack, "sessions/"), s3_keys(stack, "summaries/")
        dead = queue_depth(stack, "SummarizeDLQ")
        client.close()
        report(
            f"Load: {SESSIONS} sessions (+{len(repeats)} repeats), {CLIENTS} clients",
            [
                ("accepted (202)", accepted),
                ("repeats answered 200", sum(1 for s, _ in results if s == 200)),
                ("client-visible failures", sum(1 for s, _ in results if s >= 500)),
                ("ingest throughput (sessions/s)", round(len(results) / posting_s, 1)),
                ("ingest latency p50 (ms)", round(1000 * statistics.median(latencies), 1)),
                ("ingest latency p99 (ms)", round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1)),
                ("end-to-end summarized per second", round(statuses.get("SUMMARIZED", 0) / total_s, 1)),
                ("stored raw sessions", stored),
                ("summarized", statuses.get("SUMMARIZED", 0)),
                ("in DLQ", dead),
                ("LLM calls", backend.calls),
                ("duplicates (calls - summaries)", backend.calls - summaries),
            ],
        )
        assert accepted == SESSIONS
        assert stored == accepted == statuses.get("SUMMARIZED", 0) + dead
        assert dead == 0
        assert backend.calls == summaries == accepted
