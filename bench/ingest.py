"""Ingest through the local gateway vs raw boto3 writes of the same data to the same moto server."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx

from bench.import_time import measure_all
from bench.progress import progress
from local_stack.samples import sample_sessions
from local_stack.stack import LocalStack, StackOptions
from schemas.contracts import Session

CLIENTS = 4
ROUNDS = 4
# Summaries are never requested here (no event sources), but the functions read these at start.
LLM_ENV = {
    "ANTHROPIC_API_KEY": "local-bench",
    "SUMMARIZER_MODEL_ID": "local-scripted",
    "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
    "LLM_MAX_RETRIES": "0",
}


@contextlib.contextmanager
def ingest_stack() -> Iterator[LocalStack]:
    stack = LocalStack(StackOptions(event_sources=False, extra_env=LLM_ENV))
    stack.start()
    try:
        with stack.aws_environment_applied():
            yield stack
    finally:
        stack.stop()


def ingest_tokens(stack: LocalStack) -> dict[str, str]:
    from functions.stores.tokens import TokenStore

    store = TokenStore(stack.resolved("TokensTable"))
    return {
        data["source"]: store.create(f"bench-ingest-{data['source']}", ["ingest"], source=data["source"])
        for data in sample_sessions()
    }


def make_sessions(prefix: str, count: int) -> list[dict[str, Any]]:
    samples = sample_sessions()
    return [{**samples[i % len(samples)], "session_id": f"{prefix}-{i:05d}"} for i in range(count)]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _drive(items: list[Any], worker_setup: Callable[[], Callable[[Any], None]]) -> tuple[list[float], float]:
    """Run items through CLIENTS threads; each thread builds its own sender. (latency per item, wall seconds)."""
    work: queue.Queue = queue.Queue()
    for item in items:
        work.put(item)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(CLIENTS + 1)

    def client() -> None:
        send = worker_setup()
        ready.wait()
        while True:
            try:
                item = work.get_nowait()
            except queue.Empty:
                return
            started = time.perf_counter()
            try:
                send(item)
            except Exception as error:  # counted, never hidden
                with lock:
                    errors.append(f"{type(error).__name__}: {error}")
                continue
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(items)} sends failed, first: {errors[0]}")
    return latencies, seconds


def _summary(latencies: list[float], seconds: float) -> dict[str, Any]:
    return {
        "sessions": len(latencies),
        "seconds": round(seconds, 3),
        "sessions_per_second": round(len(latencies) / seconds, 2),
        "p50_ms": round(_percentile(latencies, 0.5) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
    }


def via_gateway(stack: LocalStack, tokens: dict[str, str], sessions: list[dict[str, Any]]) -> tuple[list[float], float]:
    def setup() -> Callable[[dict[str, Any]], None]:
        client = httpx.Client(base_url=stack.api_url, timeout=60)

        def send(session: dict[str, Any]) -> None:
            response = client.post(
                "/sessions", json=session, headers={"authorization": f"Bearer {tokens[session['source']]}"}
            )
            if response.status_code != 202:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")

        return send

    return _drive(sessions, setup)


def raw_boto3(stack: LocalStack, sessions: list[dict[str, Any]]) -> tuple[list[float], float]:
    """The same three writes the ingest function makes: S3 put, conditional DynamoDB put, SQS send."""
    bucket, table_name = stack.resolved("DataBucket"), stack.resolved("SessionsTable")
    queue_url = stack.resolved("SummarizeQueue")

    def setup() -> Callable[[dict[str, Any]], None]:
        aws = boto3.session.Session()
        s3, sqs = aws.client("s3"), aws.client("sqs")
        table = aws.resource("dynamodb").Table(table_name)

        def send(data: dict[str, Any]) -> None:
            session = Session.model_validate(data)
            content_hash = session.content_hash()
            key = f"sessions/{session.session_id}/{content_hash}.json"
            body = json.dumps(session.model_dump(mode="json"), ensure_ascii=False).encode("utf-8")
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            table.put_item(
                Item={
                    "session_id": session.session_id,
                    "source": session.source,
                    "status": "RECEIVED",
                    "content_hash": content_hash,
                    "received_at": now,
                    "received_day": now[:10],
                    "raw_key": key,
                    "turn_count": len(session.turns),
                    "systems": {},
                },
                ConditionExpression="attribute_not_exists(session_id)",
            )
            sqs.send_message(
                QueueUrl=queue_url,
                MessageBody=json.dumps({"session_id": session.session_id, "content_hash": content_hash}),
            )

        return send

    return _drive(sessions, setup)


def compare(stack: LocalStack, tokens: dict[str, str], count: int, label: str) -> dict[str, Any]:
    """Alternating rounds of the two paths, so a burst of load elsewhere on the machine hits both alike."""
    rounds = ROUNDS if count >= ROUNDS * CLIENTS else 1
    measured: dict[str, tuple[list[float], float]] = {"gateway": ([], 0.0), "raw": ([], 0.0)}
    gateway_sessions = make_sessions(f"bench-gw-{label}", count)
    raw_sessions = make_sessions(f"bench-raw-{label}", count)
    for index in range(rounds):
        part = slice(index * count // rounds, (index + 1) * count // rounds)
        progress(f"ingest: {count} sessions ({label}), round {index + 1}/{rounds}: gateway, then raw boto3")
        for way, drive in (
            ("gateway", lambda part=part: via_gateway(stack, tokens, gateway_sessions[part])),
            ("raw", lambda part=part: raw_boto3(stack, raw_sessions[part])),
        ):
            latencies, seconds = drive()
            measured[way] = (measured[way][0] + latencies, measured[way][1] + seconds)
    gateway, raw = _summary(*measured["gateway"]), _summary(*measured["raw"])
    return {
        "sessions": count,
        "rounds": rounds,
        "gateway": gateway,
        "raw": raw,
        "throughput_ratio": round(raw["sessions_per_second"] / gateway["sessions_per_second"], 2),
        "p50_ratio": round(gateway["p50_ms"] / raw["p50_ms"], 2),
    }


def warm_up(stack: LocalStack, tokens: dict[str, str]) -> None:
    """Start every handler worker process (Lambda's cold starts) before anything is timed."""
    progress("ingest: warming up the function workers")
    via_gateway(stack, tokens, make_sessions("bench-warm-gw", 2 * CLIENTS))
    raw_boto3(stack, make_sessions("bench-warm-raw", CLIENTS))


def run(quick: bool, scaling_sizes: tuple[int, ...]) -> dict[str, Any]:
    """The ingest comparison at N sessions, and at each scaling size (reusing N when it is one of them)."""
    main_count = 40 if quick else 400
    with ingest_stack() as stack:
        tokens = ingest_tokens(stack)
        warm_up(stack, tokens)
        main = compare(stack, tokens, main_count, "main")
        scaling = {main_count: main}
        for size in scaling_sizes:
            if size not in scaling:
                scaling[size] = compare(stack, tokens, size, f"x{size}")
        imports = measure_all(stack, runs=1 if quick else 3)
    return {"clients": CLIENTS, "main": main, "scaling": [scaling[size] for size in scaling_sizes], "imports": imports}
