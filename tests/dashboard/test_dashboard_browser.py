"""The dashboard in a real headless Chromium against the local stack: live list, session, record history, refresh,
the catalog views and records from the real edge worker."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import pytest
from browser_helpers import dashboard_url, open_page, shot
from edge_by_hand import EdgeByHand, shipped_system
from playwright.sync_api import Page, expect
from stack_helpers import api_client, make_token, queue_messages, running_stack, session_body, wait_for
from tiny_model import build_tiny_model

from edge_worker.api_client import EdgeApi
from edge_worker.catalog import SystemCatalog
from edge_worker.config import EdgeConfig
from edge_worker.model_store import load_model
from edge_worker.translator import Translator
from edge_worker.worker import EdgeWorker
from schemas.contracts import TranslateRequest
from schemas.system_definition import default_systems_dir

PLANNER = shipped_system("planner")


@pytest.fixture(scope="module")
def stack():
    with running_stack() as running:
        yield running


def post_session(stack, session_id: str, text: str = "Book the dentist for Friday") -> None:
    with api_client(stack, make_token(stack, ["ingest"], source="planner", name="planner")) as client:
        response = client.post("/sessions", json=session_body(session_id, text=text))
        assert response.status_code == 202, response.text


def refresh_click(page: Page, button) -> dict:
    with page.expect_response(lambda r: r.url.endswith("/refresh") and r.request.method == "POST") as answer:
        button.click()
    return {**answer.value.json(), "http_status": answer.value.status}


def test_a_token_without_the_read_scope_is_told_so(stack, browser):
    context, page, problems = open_page(browser, 1280, 800)
    page.goto(f"{stack.api_url}/#token={make_token(stack, ['ingest'], source='planner', name='wrong-scope')}")
    expect(page.get_by_role("alert")).to_have_text(re.compile("this token lacks the read scope", re.I))
    expect(page.get_by_label("Token", exact=True)).to_be_visible()
    assert "token=" not in page.url  # taken out of the address bar
    shot(page, "00-wrong-scope")
    context.close()
    assert [p for p in problems if "403" not in p] == []  # the refused call itself is logged by the browser


def test_a_token_the_api_does_not_know_is_told_apart_from_a_missing_scope(stack, browser):
    context, page, problems = open_page(browser, 1280, 800)
    page.goto(f"{stack.api_url}/#token=ssp_{'0' * 40}")
    expect(page.get_by_role("alert")).to_have_text(re.compile("the API does not know this token", re.I))
    expect(page.get_by_label("Token", exact=True)).to_be_visible()
    context.close()
    assert [p for p in problems if "403" not in p] == []


def test_live_list_session_record_history_and_coalesced_refresh(stack, browser):
    edge = EdgeByHand(stack)
    edge.publish()  # before any session exists, so there is nothing to backfill
    context, page, problems = open_page(browser, 1280, 900)
    page.goto(dashboard_url(stack, make_token(stack, ["read", "refresh"], name="dashboard")))
    expect(page.locator("#live-status")).to_have_text("Live updates on")
    expect(page.locator("#find-state")).to_have_text("No sessions match these filters yet.")
    shot(page, "01-empty-list")
    page.evaluate("window.loadedOnce = true")

    post_session(stack, "dash-live-1")
    row = page.locator('tr[data-summary-id="dash-live-1"]')
    expect(row).to_have_attribute("data-status", "SUMMARIZED")
    assert page.evaluate("window.loadedOnce") is True  # arrived over the WebSocket, not by reloading
    shot(page, "02-live-row")

    assert [r.reason for r in edge.drain()] == ["new"]  # the summarizer asks for every system once
    expect(row.locator('[data-system="planner"]')).to_have_text("planner v1")
    row.get_by_role("link", name="Open session dash-live-1").click()
    expect(page.locator("#session-heading")).to_be_focused()
    expect(page.locator(".summary-text")).to_contain_text("Scripted summary")
    card = page.locator('article[data-system="planner"]')
    expect(card.locator(".item-title").first).to_have_text("Book the dentist (translation 1)")
    lineage = edge.lineage()
    for name, value in lineage.items():
        expect(card.locator(f'[data-lineage="{name}"]')).to_contain_text(value)
    expect(page.locator('[data-lineage="summarizer_model_version"]')).to_contain_text("summarizer-model:")
    assert page.evaluate("window.loadedOnce") is True  # opening a session is not a page load
    shot(page, "03-session")

    edge.put("dash-live-1", edge.document(events=0))  # version 2 arrives while the page is open
    expect(card.locator(".version")).to_have_text("version 2")
    card.get_by_role("link", name="History and details").click()
    expect(page).to_have_url(re.compile(r"\?session=dash-live-1&system=planner$"))
    record = page.locator("#record-body")
    newest = record.locator('.history-entry[data-version="2"]')
    expect(newest.locator('.diff-line[data-kind="changed"]')).to_contain_text(
        'tasks[0].title: "Book the dentist (translation 1)" → "Book the dentist (translation 2)"'
    )
    expect(newest.locator('.diff-line[data-kind="removed"]')).to_contain_text('events[0]: {"title":"Dentist"')
    expect(record.locator('.history-entry[data-version="1"] .diff-line[data-kind="added"]')).to_have_count(2)
    shot(page, "04-history-diff")

    refresh = record.get_by_role("button", name="Refresh planner")
    first, second = refresh_click(page, refresh), refresh_click(page, refresh)
    assert (first["http_status"], first["coalesced"]) == (202, False)
    assert (second["http_status"], second["coalesced"]) == (200, True)
    assert second["request_id"] == first["request_id"]
    tracked = page.locator(f'.refresh-item[data-request-id="{first["request_id"]}"]')
    expect(tracked).to_have_attribute("data-coalesced", "true")
    expect(tracked).to_have_attribute("data-state", "queued")
    expect(tracked.locator(".refresh-progress")).to_have_text(
        "queued · 0/1 translated · joined an identical request made moments ago"
    )
    shot(page, "05-refresh-requested")

    handled = edge.drain()
    assert [(r.reason, r.request_id) for r in handled] == [("refresh", first["request_id"])]
    expect(record.locator(".version").first).to_have_text("version 3")
    expect(tracked).to_have_attribute("data-state", "done")
    expect(record.locator('.history-entry[data-version="3"]')).to_contain_text(first["request_id"])
    history = edge.api.get(
        "/summaries/dash-live-1/systems/planner/history",
        headers={"authorization": f"Bearer {make_token(stack, ['read'], name='reader')}"},
    ).json()
    assert [entry["version"] for entry in history["items"]] == [3, 2, 1]  # one re-translation for two clicks
    assert queue_messages(stack, "EdgeQueue") == 0
    shot(page, "06-refreshed")
    context.close()
    assert problems == []


def test_narrow_screen_has_no_sideways_scrolling(stack, browser):
    post_session(stack, "dash-narrow-1", text="Plan the team offsite and send the agenda to Ana by Monday")
    reader = api_client(stack, make_token(stack, ["read"], name="narrow-reader"))
    wait_for(lambda: reader.get("/summaries/dash-narrow-1").json().get("status") == "SUMMARIZED", timeout=30)
    context, page, problems = open_page(browser, 390, 844)
    page.goto(dashboard_url(stack, make_token(stack, ["read", "refresh"], name="narrow")))
    row = page.locator('tr[data-summary-id="dash-narrow-1"]')
    expect(row).to_be_visible()
    assert _overflow(page) <= 0
    shot(page, "07-narrow-list")
    row.get_by_role("link").click()
    expect(page.locator(".summary-text")).to_be_visible()
    assert _overflow(page) <= 0
    shot(page, "08-narrow-session")
    page.get_by_role("link", name="Costs").click()
    expect(page.get_by_role("img", name=re.compile("per day"))).to_be_visible()
    assert _overflow(page) <= 0
    shot(page, "09-narrow-costs")
    context.close()
    reader.close()
    assert problems == []


def _overflow(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_system_registry_and_cost_views(stack, browser):
    EdgeByHand(stack).publish()
    post_session(stack, "dash-costs-1")  # a summarizer call of its own to chart, whatever ran before
    reader = api_client(stack, make_token(stack, ["read"], name="costs-reader"))
    wait_for(lambda: reader.get("/summaries/dash-costs-1").json().get("status") == "SUMMARIZED", timeout=30)
    context, page, problems = open_page(browser, 1280, 900)
    page.goto(dashboard_url(stack, make_token(stack, ["read", "refresh"], name="catalog")))
    page.get_by_role("link", name="Systems").click()
    expect(page).to_have_url(re.compile(r"\?view=systems$"))
    expect(page.locator('#systems-body article[data-system="planner"]')).to_contain_text(PLANNER.schema_version)
    shot(page, "10-systems")
    page.get_by_role("link", name="Registry").click()
    page.get_by_label("Kind", exact=True).select_option("schema")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"\?view=registry&kind=schema$"))
    entry = page.locator(f'li[data-version-id="{PLANNER.schema_version}"]')
    expect(entry).to_contain_text("Planner record: tasks, events")
    shot(page, "11-registry")
    page.get_by_role("link", name="Costs").click()
    page.get_by_label("Chart", exact=True).select_option("calls")
    expect(page).to_have_url(re.compile(r"\?view=costs&from=.*&metric=calls$"))
    chart = page.get_by_role("img", name=re.compile("Calls per day"))
    expect(chart.locator("rect.bar").first).to_be_attached()
    assert (
        json.loads(
            page.evaluate(
                "JSON.stringify([...document.querySelectorAll('rect.bar')]"
                ".filter(r => +r.getAttribute('height') > 0).length)"
            )
        )
        >= 1
    )
    shot(page, "12-costs")
    context.close()
    assert problems == []


@contextlib.contextmanager
def real_edge_worker(stack, state_dir: Path):
    """The edge daemon itself, translating with a tiny random-weight model (fast, schema-valid output)."""
    model, tokenizer, info = load_model(str(build_tiny_model(state_dir / "model")))
    config = EdgeConfig(
        api_url=stack.api_url,
        queue_url=stack.resolved("EdgeQueue"),
        backfill_queue_url=stack.resolved("BackfillQueue"),
        systems_dirs=[default_systems_dir()],
        state_dir=state_dir / "state",
        wait_seconds=1,
        visibility_seconds=30,
        reconcile_seconds=3600,
        flush_seconds=0.5,
    )
    worker = EdgeWorker(
        config,
        EdgeApi(stack.api_url, make_token(stack, ["edge"], name="edge-daemon")),
        Translator(model, tokenizer, info, max_tokens=160),
        catalog=SystemCatalog(config.systems_dirs),
        sqs=stack.client("sqs"),
    ).start()
    try:
        yield worker
    finally:
        worker.stop()


def test_records_from_the_edge_worker_and_one_retranslation_for_two_clicks(stack, browser, tmp_path):
    systems = sorted(p.stem for p in default_systems_dir().glob("*.json"))
    context, page, problems = open_page(browser, 1280, 900)
    page.goto(dashboard_url(stack, make_token(stack, ["read", "refresh"], name="edge-watch")))
    expect(page.locator("#live-status")).to_have_text("Live updates on")
    with real_edge_worker(stack, tmp_path) as worker:
        post_session(stack, "dash-edge-1", text="Call the plumber tomorrow at 8 and water the plants daily")
        row = page.locator('tr[data-summary-id="dash-edge-1"]')
        for system in systems:  # the worker first backfills the sessions earlier tests left on this stack
            expect(row.locator(f'[data-system="{system}"]')).to_have_text(f"{system} v1", timeout=180_000)
        row.get_by_role("link").click()
        cards = page.locator("article.record-card")
        expect(cards).to_have_count(len(systems))
        for system in systems:
            card = page.locator(f'article[data-system="{system}"]')
            expect(card.locator('[data-lineage="translator_model_version"]')).to_contain_text(
                worker.translator.model_version
            )
            # the schema the edge published is found in the registry and shapes the readable view
            expect(card.locator(".readable-section").first).to_be_visible()
            expect(card.locator(".readable-host .notice")).to_have_count(0)
            expect(card.get_by_label(f"{system} JSON")).to_be_hidden()
            card.get_by_role("button", name="Raw JSON").click()
            expect(card.get_by_label(f"{system} JSON")).to_contain_text("{")
        shot(page, "13-edge-worker-records")

        wait_for(lambda: queue_messages(stack, "EdgeQueue") == 0, timeout=60)
        translated = worker.status.translated
        refresh = page.locator('article[data-system="planner"]').get_by_role("button", name="Refresh planner")
        first, second = refresh_click(page, refresh), refresh_click(page, refresh)
        assert (first["http_status"], second["http_status"], second["coalesced"]) == (202, 200, True)
        tracked = page.locator(f'.refresh-item[data-request-id="{first["request_id"]}"]')
        expect(tracked).to_have_attribute("data-state", "done", timeout=60_000)
        expect(tracked).to_contain_text("1/1 translated")
        wait_for(lambda: queue_messages(stack, "EdgeQueue") == 0, timeout=60)
        assert worker.status.translated - translated == 1  # two clicks, one re-translation
        shot(page, "14-edge-worker-refreshed")
        # the refresh's message once more, as a stop that released it gives it back: the worker skips what it stored
        again = TranslateRequest(
            summary_id="dash-edge-1", system="planner", reason="refresh", request_id=first["request_id"]
        )
        stack.client("sqs").send_message(
            QueueUrl=stack.resolved("EdgeQueue"),
            MessageBody=again.model_dump_json(),
            MessageGroupId="dash-edge-1",
            MessageDeduplicationId="released-after-a-stop",
        )
        wait_for(lambda: queue_messages(stack, "EdgeQueue") == 0, timeout=60)
        assert worker.status.translated - translated == 1 and worker.status.last_error is None
    context.close()
    assert problems == []
