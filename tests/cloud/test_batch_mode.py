"""SummarizerMode=batch: queued sessions go out as Message Batches, the scheduled collector records the results.

One batch request per session under duplicate POSTs and SQS redelivery, summaries priced at the batch rate,
errored and expired results FAILED with their reason and retryable.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import anthropic
import pytest
from stack_helpers import (
    api_client,
    make_token,
    queue_messages,
    running_stack,
    session_body,
    stored_sessions,
    wait_for,
)

from functions.stores.sessions import SessionStore
from functions.summarize.batch import custom_id_for
from functions.summarize.pricing import cost_usd
from functions.summarize.providers import AnthropicSummarizer
from functions.summarize.summarizer import SummarizerError, SummaryResult
from local_stack.messages_server import (
    ScriptedBackend,
    expire,
    fail,
    hang,
    overloaded,
    prompt_text,
    reply,
    start_messages_server,
    truncated,
)
from local_stack.scheduler import Scheduler, rate_seconds
from local_stack.template import load_app
from schemas.contracts import Session, SummarizeRequest, TokenUsage

REPO = Path(__file__).resolve().parents[2]
MODEL = "claude-haiku-4-5"  # a priced model, so the batch discount shows in the cost


def batch_mode() -> dict:
    """Stack options: batch mode, a priced model id, and the collector every half second instead of 5 minutes."""
    return {
        "parameters": {"SummarizerMode": "batch"},
        "schedule_interval_s": 0.5,
        "extra_env": {"SUMMARIZER_MODEL_ID": MODEL},
    }


GATE = "gate-session-marker"
SESSIONS = 24


class GatedBackend(ScriptedBackend):
    """Holds the batch worker on the gate session's request until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def decide(self, body, headers):
        if GATE in prompt_text(body):
            self.gate.wait(60)
        return super().decide(body, headers)


@pytest.fixture(scope="module")
def backend() -> GatedBackend:
    return GatedBackend()


@pytest.fixture(scope="module")
def stack(backend):
    """One batch-mode stack for the module; each test counts only its own sessions."""
    with running_stack(backend, **batch_mode()) as stack:
        try:
            yield stack
        finally:
            backend.gate.set()  # a failed test must not leave the batch worker held


def session_item(stack, session_id: str) -> dict:
    return (
        stack.client("dynamodb")
        .get_item(TableName=stack.resolved("SessionsTable"), ConsistentRead=True, Key={"session_id": {"S": session_id}})
        .get("Item", {})
    )


def pending_in_index(stack) -> int:
    return stack.client("dynamodb").query(
        TableName=stack.resolved("SessionsTable"),
        IndexName="by_pending_batch",
        Select="COUNT",
        KeyConditionExpression="batch_state = :p",
        ExpressionAttributeValues={":p": {"S": "PENDING"}},
    )["Count"]


def usage_of(item: dict) -> TokenUsage:
    return TokenUsage(**{key: int(value["N"]) for key, value in item["usage"]["M"].items()})


def usage_totals(stack) -> tuple[int, Decimal]:
    rows = stack.client("dynamodb").scan(TableName=stack.resolved("UsageTable"))["Items"]
    assert {row["model_id"]["S"] for row in rows} <= {MODEL}
    return sum(int(row["calls"]["N"]) for row in rows), sum((Decimal(row["cost_usd"]["N"]) for row in rows), Decimal(0))


def test_schedule_comes_from_the_template_and_rate_expressions_parse():
    sources = {(s.function, s.event): s for s in load_app().schedule_sources}
    collect = sources[("CollectBatchesFunction", "CollectBatches")]
    assert rate_seconds(collect.expression) == 300
    assert [rate_seconds(e) for e in ("rate(1 minute)", "rate(2 hours)", "rate(7 days)")] == [60, 7200, 604800]
    assert rate_seconds("cron(0 12 * * ? *)") is None
    for bad in ("rate(5 minute)", "rate(1 minutes)", "rate(0 minutes)", "every 5 minutes"):
        with pytest.raises(ValueError, match="rate"):
            rate_seconds(bad)


def test_the_provider_port_submits_polls_and_maps_every_result_kind_through_the_real_sdk():
    backend = ScriptedBackend()
    backend.script([hang(1.0)], when="slow-one")
    backend.always(overloaded(), when="busy-one")
    backend.always(fail(400, "max_tokens: too large"), when="bad-one")
    backend.always(expire(), when="late-one")
    backend.always(reply("   "), when="empty-one")
    with start_messages_server(backend) as server:
        client = anthropic.Anthropic(api_key="local-test-key", base_url=server.url, max_retries=0)
        summarizer = AnthropicSummarizer(client, MODEL, max_tokens=256)
        sessions = {
            name: Session.model_validate(session_body(name, text=f"Text of {name}"))
            for name in ("slow-one", "busy-one", "bad-one", "late-one", "empty-one")
        }
        batch_id = summarizer.submit_batch([(custom_id_for(name), session) for name, session in sessions.items()])
        assert not summarizer.batch_status(batch_id).ended  # the first request is still being answered
        status = wait_for(lambda: (s := summarizer.batch_status(batch_id)).ended and s, timeout=10)
        assert status.latency_ms >= 1000
        outcomes = dict(summarizer.batch_results(batch_id, status.latency_ms))
        assert set(outcomes) == set(sessions)
        done = outcomes["slow-one"]
        assert isinstance(done, SummaryResult) and done.text.startswith("Scripted summary")
        assert (done.model_id, done.latency_ms) == (MODEL, status.latency_ms) and done.usage.output_tokens > 0
        errors = {name: (outcome.retryable, str(outcome)) for name, outcome in outcomes.items() if name != "slow-one"}
        assert all(isinstance(outcomes[name], SummarizerError) for name in errors)
        assert errors["busy-one"][0] and "overloaded_error" in errors["busy-one"][1]
        assert not errors["bad-one"][0] and "invalid_request_error: max_tokens: too large" in errors["bad-one"][1]
        assert errors["late-one"][0] and "expired" in errors["late-one"][1]
        assert not errors["empty-one"][0] and "returned no text" in errors["empty-one"][1]
        # The batch request carries the same parameters as a direct call.
        direct = summarizer.request_params(sessions["slow-one"])
        sent = [r["body"] for r in backend.requests if "slow-one" in r["prompt"]]
        assert sent == [direct]

        with pytest.raises(SummarizerError) as unknown:
            summarizer.batch_status("msgbatch_nope")
        assert unknown.value.status == 404 and not unknown.value.retryable
        with pytest.raises(SummarizerError) as duplicate:
            summarizer.submit_batch([("same", sessions["slow-one"]), ("same", sessions["bad-one"])])
        assert duplicate.value.status == 400 and "custom_id" in str(duplicate.value)
        bedrock = AnthropicSummarizer(client, MODEL, provider="bedrock")
        with pytest.raises(SummarizerError, match="SummarizerMode=realtime") as no_batches:
            bedrock.submit_batch([("x", sessions["slow-one"])])
        assert not no_batches.value.retryable


def test_batch_mode_summarizes_each_session_once_at_half_price(stack, backend):
    bodies = [
        session_body(f"batch-{n:02d}", text=f"Batch session {n}: call the plumber about leak {n * 7}")
        for n in range(SESSIONS)
    ]
    bodies.append(session_body("pln.2025:odd-id", text="An id the batch API cannot use as custom_id"))
    gate_body = session_body("batch-gate", text=f"Hold the batch worker: {GATE}")
    everyone = [gate_body, *bodies]
    calls_before, (usage_calls_before, usage_cost_before) = backend.calls, usage_totals(stack)
    edge_before = queue_messages(stack, "EdgeQueue")
    token = make_token(stack, ["ingest", "read"], source="planner")
    with api_client(stack, token) as client:
        assert client.post("/sessions", json=gate_body).status_code == 202
        wait_for(lambda: "batch_id" in session_item(stack, "batch-gate"), timeout=30)
        with ThreadPoolExecutor(4) as pool:
            statuses = list(
                pool.map(lambda b: client.post("/sessions", json=b).status_code, bodies + bodies[::4])
            )  # every fourth session is posted twice
        assert statuses.count(202) == len(bodies) and statuses.count(200) == len(bodies[::4])

        # Every session waits in a submitted batch, still RECEIVED, while the gate holds the worker.
        items = wait_for(
            lambda: (
                (found := {b["session_id"]: session_item(stack, b["session_id"]) for b in everyone})
                and all("batch_id" in item for item in found.values())
                and found
            ),
            timeout=60,
        )
        assert {item["status"]["S"] for item in items.values()} == {"RECEIVED"}
        batch_of = {sid: item["batch_id"]["S"] for sid, item in items.items()}

        sqs = stack.client("sqs")
        for body in everyone[::3]:  # at-least-once delivery: the same request arrives again
            request = SummarizeRequest(
                session_id=body["session_id"], content_hash=Session.model_validate(body).content_hash()
            )
            sqs.send_message(QueueUrl=stack.resolved("SummarizeQueue"), MessageBody=request.model_dump_json())
        wait_for(lambda: queue_messages(stack, "SummarizeQueue") == 0, timeout=30)
        assert {sid: session_item(stack, sid)["batch_id"]["S"] for sid in batch_of} == batch_of

        # The template's scheduled event, as EventBridge sends it: the batches are still in progress.
        sample = json.loads((REPO / "events/collect_batches/scheduled_collect.json").read_text())
        assert stack.invoke("CollectBatchesFunction", sample)["in_progress"] == len(set(batch_of.values()))
        schedulers = [p for p in stack.pollers if isinstance(p, Scheduler)]
        assert [(s.function, s.interval_s) for s in schedulers] == [("CollectBatchesFunction", 0.5)]
        assert schedulers[0].runs > 0
        assert backend.calls == calls_before

        backend.gate.set()
        wait_for(
            lambda: all(session_item(stack, b["session_id"])["status"]["S"] == "SUMMARIZED" for b in everyone),
            timeout=60,
        )

    assert backend.calls - calls_before == len(everyone)
    for body in everyone:
        assert backend.calls_matching(body["turns"][0]["content"]) == 1, body["session_id"]

    total = Decimal(0)
    for body in everyone:
        item = session_item(stack, body["session_id"])
        usage = usage_of(item)
        batch_price, full_price = cost_usd(MODEL, usage, batch=True), cost_usd(MODEL, usage)
        assert full_price > 0 and batch_price == pytest.approx(full_price / 2)
        assert Decimal(item["cost_usd"]["N"]) == Decimal(str(round(batch_price, 8)))
        assert item["summarizer_model_version"]["S"].startswith("summarizer-model:")
        assert item["batch_id"]["S"] == batch_of[body["session_id"]] and "batch_state" not in item
        total += Decimal(item["cost_usd"]["N"])
    usage_calls, usage_cost = usage_totals(stack)
    assert (usage_calls - usage_calls_before, usage_cost - usage_cost_before) == (len(everyone), total)

    summary = stack.client("s3").get_object(Bucket=stack.resolved("DataBucket"), Key="summaries/pln.2025:odd-id.md")
    assert summary["Body"].read().decode().startswith("Scripted summary")
    assert custom_id_for("pln.2025:odd-id").startswith("sid-")
    assert queue_messages(stack, "EdgeQueue") - edge_before == len(everyone)  # one translation request each
    assert queue_messages(stack, "SummarizeDLQ") == 0
    wait_for(lambda: pending_in_index(stack) == 0, timeout=10)


def test_errored_and_expired_results_fail_the_session_and_a_retry_summarizes_it(stack, backend):
    # One scripted outcome each: the first request fails, the retry's request succeeds.
    backend.script([fail(400, "prompt is too long: 212000 tokens > 200000 maximum")], when="errored-marker")
    backend.script([expire()], when="expired-marker")
    token = make_token(stack, ["ingest", "read"], source="planner")
    with api_client(stack, token) as client:
        for session_id, text in (
            ("fine-1", "An ordinary session"),
            ("errs-1", "Text with errored-marker"),
            ("late-1", "Text with expired-marker"),
        ):
            assert client.post("/sessions", json=session_body(session_id, text=text)).status_code == 202

        def settled(session_id: str, status: str):
            return (view := client.get(f"/sessions/{session_id}").json())["status"] == status and view

        errored = wait_for(lambda: settled("errs-1", "FAILED"), timeout=60)
        assert "invalid_request_error" in errored["error"] and "prompt is too long" in errored["error"]
        expired = wait_for(lambda: settled("late-1", "FAILED"), timeout=60)
        assert "expired" in expired["error"]
        assert wait_for(lambda: settled("fine-1", "SUMMARIZED"), timeout=60)
        failed_item = session_item(stack, "errs-1")
        assert "batch_id" not in failed_item and failed_item["failed_batch_id"]["S"].startswith("msgbatch_")
        assert backend.calls_matching("errored-marker") == 1 and backend.calls_matching("expired-marker") == 1

        for session_id in ("errs-1", "late-1"):
            assert client.post(f"/sessions/{session_id}/retry").status_code == 202
        for session_id in ("errs-1", "late-1"):
            done = wait_for(lambda sid=session_id: settled(sid, "SUMMARIZED"), timeout=60)
            assert "error" not in done
        # One new batch request per retried session.
        assert backend.calls_matching("errored-marker") == 2 and backend.calls_matching("expired-marker") == 2
        retried = session_item(stack, "errs-1")
        assert retried["batch_id"]["S"] != retried["failed_batch_id"]["S"]
        assert client.post("/sessions/fine-1/retry").status_code == 409
    assert {record.session_id for record in stored_sessions(stack)} >= {"fine-1", "errs-1", "late-1"}


def test_a_batch_result_cut_off_is_asked_once_more_with_the_larger_budget_else_failed(stack, backend):
    backend.script([truncated("Overview\nThe user")], when="batch-cut-once")
    backend.script([truncated("Overview\nThe"), truncated("Overview\nThe user")], when="batch-cut-twice")
    token = make_token(stack, ["ingest", "read"], source="planner")
    with api_client(stack, token) as client:
        for session_id in ("batch-cut-once", "batch-cut-twice"):
            assert client.post("/sessions", json=session_body(session_id, text=f"Text {session_id}")).status_code == 202

        def settled(session_id: str, status: str):
            return (view := client.get(f"/sessions/{session_id}").json())["status"] == status and view

        once = wait_for(lambda: settled("batch-cut-once", "SUMMARIZED"), timeout=60)
        assert once["stop_reason"] == "end_turn" and backend.calls_matching("batch-cut-once") == 2
        budgets = [r["body"]["max_tokens"] for r in backend.requests if "batch-cut-once" in r["prompt"]]
        assert budgets[1] > budgets[0]
        # The cut-off batch call is paid at the batch price, the direct call at the full price.
        assert Decimal(str(once["cost_usd"])) > Decimal(str(cost_usd(MODEL, TokenUsage(**once["usage"]), batch=True)))

        failed = wait_for(lambda: settled("batch-cut-twice", "FAILED"), timeout=60)
        assert "stop_reason=max_tokens" in failed["error"] and failed["stop_reason"] == "max_tokens"
        assert backend.calls_matching("batch-cut-twice") == 2
        assert client.post("/sessions/batch-cut-twice/retry").status_code == 202
        assert wait_for(lambda: settled("batch-cut-twice", "SUMMARIZED"), timeout=60)["stop_reason"] == "end_turn"


def test_a_claim_admits_one_submitter_and_a_batch_unknown_to_the_api_fails_visibly(stack):
    store = SessionStore(stack.resolved("SessionsTable"), stack.resolved("DataBucket"))
    session = Session.model_validate(session_body("claim-1", text="Written straight to the store, never queued"))
    content_hash = session.content_hash()
    store.create(session, content_hash, store.put_raw(session, content_hash)[0])
    now = int(time.time())
    assert store.claim_for_batch("claim-1", content_hash, "first", now, now + 100)
    assert not store.claim_for_batch("claim-1", content_hash, "second", now, now + 100)  # held by the first
    assert not store.claim_for_batch("claim-1", "0" * 64, "other", now + 500, now + 600)  # not this content
    assert store.claim_for_batch("claim-1", content_hash, "second", now + 101, now + 200)  # the first one died
    assert not store.record_batch("claim-1", "first", "msgbatch_from_the_dead")
    assert store.record_batch("claim-1", "second", "msgbatch_unknown_here")
    assert not store.claim_for_batch("claim-1", content_hash, "third", now + 1000, now + 1100)  # in a batch now

    # The local API never made that batch: the collector fails the session visibly, and it can be retried.
    failed = wait_for(lambda: (item := session_item(stack, "claim-1"))["status"]["S"] == "FAILED" and item, timeout=30)
    assert "msgbatch_unknown_here cannot be read" in failed["error"]["S"] and "404" in failed["error"]["S"]
    assert "batch_id" not in failed and "batch_state" not in failed
    assert "msgbatch_unknown_here" not in store.pending_batch_ids()
