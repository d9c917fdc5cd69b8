"""An open JSON editor in the dashboard survives a re-render caused by a change to something else of the session."""

from __future__ import annotations

import pytest
from browser_helpers import dashboard_url, open_page
from edge_by_hand import EdgeByHand
from playwright.sync_api import expect
from stack_helpers import api_client, make_token, running_stack, session_body, wait_for


@pytest.fixture(scope="module")
def stack():
    with running_stack() as running:
        yield running


def test_an_open_editor_keeps_its_text_when_another_system_of_the_session_changes(browser, stack):
    edge = EdgeByHand(stack, systems=("planner", "synapse"))
    edge.publish()
    with api_client(stack, make_token(stack, ["ingest", "read"], source="planner", name="owner")) as owner:
        assert owner.post("/sessions", json=session_body("draft-1")).status_code == 202
        wait_for(lambda: owner.get("/sessions/draft-1").json()["status"] == "SUMMARIZED", timeout=60)
    task = {"title": "Book the dentist", "due": None, "priority": "medium", "status": "todo"}
    edge.put("draft-1", {"tasks": [task], "events": []})
    token = make_token(stack, ["read", "edit"], name="dashboard-draft")
    context, page, problems = open_page(browser, 1280, 800)
    page.goto(dashboard_url(stack, token).replace("/#", "/?session=draft-1&system=planner#"))
    expect(page.locator("#record-body .record-card")).to_have_attribute("data-version", "1")
    page.get_by_role("button", name="Edit").click()
    editor = page.get_by_label("planner JSON to edit")
    editor.fill('{"tasks": [], "events": []')  # half typed
    page.evaluate("window.shownCard = document.querySelector('#record-body .record-card')")
    edge.put("draft-1", {"insights": [], "topics": ["teeth"], "links": [], "open_questions": []}, system="synapse")
    page.wait_for_function("document.querySelector('#record-body .record-card') !== window.shownCard", timeout=30_000)
    expect(editor).to_be_visible()
    expect(editor).to_have_value('{"tasks": [], "events": []')
    assert problems == []
    context.close()
