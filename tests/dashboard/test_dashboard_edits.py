"""The user's hand on a record in a real headless Chromium: edit its JSON, see who wrote each version, and decide
about the newer translation kept beside an edit (keep mine, or use it); a deleted session leaves the list live."""

from __future__ import annotations

import json

import pytest
from browser_helpers import dashboard_url, open_page, shot
from edge_by_hand import EdgeByHand
from playwright.sync_api import expect
from stack_helpers import api_client, make_token, running_stack, session_body, wait_for


@pytest.fixture(scope="module")
def stack():
    with running_stack() as running:
        yield running


@pytest.fixture(scope="module")
def edge(stack) -> EdgeByHand:
    edge = EdgeByHand(stack)
    edge.publish()
    return edge


@pytest.fixture(scope="module")
def owner(stack):
    scopes = ["ingest", "read", "refresh", "edit", "delete"]
    with api_client(stack, make_token(stack, scopes, source="planner", name="owner")) as client:
        yield client


def summarized(owner, session_id: str) -> None:
    assert owner.post("/sessions", json=session_body(session_id)).status_code == 202
    wait_for(lambda: owner.get(f"/sessions/{session_id}").json()["status"] == "SUMMARIZED", timeout=60)


def retranslate(owner, edge: EdgeByHand, session_id: str, title: str, selector: dict) -> None:
    """A user's refresh (identical ones coalesce for a while: each call selects differently), and the edge's answer."""
    request = owner.post("/refresh", json={"summary_id": session_id, **selector}).json()
    assert not request["coalesced"]
    edge.drain(lambda system, summary_id: {"tasks": [_task(title)], "events": []})
    assert owner.get(f"/refresh/{request['request_id']}").json()["status"] == "done"


def _task(title: str) -> dict:
    return {"title": title, "due": None, "priority": "medium", "status": "todo"}


def test_edit_then_keep_or_take_the_retranslation(browser, stack, edge, owner):
    summarized(owner, "edits-1")
    edge.put("edits-1", {"tasks": [_task("Book the dentist")], "events": []})
    token = make_token(stack, ["read", "refresh", "edit"], name="dashboard-edits")
    context, page, problems = open_page(browser, 1280, 800)
    page.goto(dashboard_url(stack, token).replace("/#", "/?session=edits-1&system=planner#"))
    card = page.locator("#record-body .record-card")
    expect(card).to_have_attribute("data-version", "1")

    page.get_by_role("button", name="Edit").click()
    editor = page.get_by_label("planner JSON to edit")
    edited = {"tasks": [_task("Dentist, Friday 9:00")], "events": []}
    editor.fill(json.dumps({"tasks": [{**_task("x"), "priority": "urgent"}], "events": []}))
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".record-editor .state")).to_contain_text("urgent")  # the schema's refusal, named
    editor.fill(json.dumps(edited))
    page.get_by_role("button", name="Save").click()
    expect(card).to_have_attribute("data-version", "2")
    expect(card.locator(".author-badge")).to_have_text("edited by dashboard-edits")
    expect(page.locator(".history-entry[data-version='2'] .author-badge")).to_have_text("edited by dashboard-edits")
    expect(page.locator(".history-entry[data-version='1'] .author-badge")).to_have_text("translated")

    retranslate(owner, edge, "edits-1", "Model: dentist on Friday", {"system": "planner"})
    proposal = page.locator(".proposal")
    expect(proposal).to_contain_text("Model: dentist on Friday")  # arrived live, beside the user's version
    expect(card).to_have_attribute("data-version", "2")
    shot(page, "record-proposal-desktop")
    page.get_by_role("button", name="Keep my version").click()
    expect(proposal).to_have_count(0)
    expect(card).to_have_attribute("data-version", "2")
    expect(card).to_contain_text("Dentist, Friday 9:00")

    retranslate(owner, edge, "edits-1", "Model: second try", {})
    expect(proposal).to_contain_text("Model: second try")
    page.get_by_role("button", name="Use the new translation").click()
    expect(card).to_have_attribute("data-version", "3")
    expect(proposal).to_have_count(0)
    expect(card.locator(".author-badge")).to_have_count(0)
    expect(card).to_contain_text("Model: second try")
    assert [p for p in problems if "422" not in p] == []  # the refused save is the one failed request
    context.close()


def test_a_deleted_session_leaves_the_open_list(browser, stack, owner):
    summarized(owner, "edits-gone")
    token = make_token(stack, ["read"], name="dashboard-list")
    context, page, problems = open_page(browser, 1280, 800)
    page.goto(dashboard_url(stack, token).replace("/#", "/?source=planner#"))
    row = page.locator("tr", has_text="edits-gone")
    expect(row).to_have_count(1)
    assert owner.delete("/sessions/edits-gone").status_code == 202
    expect(row).to_have_count(0)  # told live, without a reload
    assert [p for p in problems if "404" not in p] == []
    context.close()
