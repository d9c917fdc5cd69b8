"""Bidi controls and right-to-left letters in user- and model-written text, in a real headless Chromium against the
local stack: a U+202E RIGHT-TO-LEFT OVERRIDE ("Trojan Source", CVE-2021-42574) is shown escaped in JSON and diffs and
reorders nothing around its own text, and Arabic still reads right to left. What is checked is the rendered order:
each character's place on the screen, not the DOM's text (which is in logical order whatever the display)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from browser_helpers import dashboard_url, open_page, shot
from edge_by_hand import EdgeByHand
from playwright.sync_api import Locator, expect
from stack_helpers import api_client, make_token, running_stack, session_body, wait_for

RLO, PDF, PDI = "\u202e", "\u202c", "\u2069"
TROJAN = f"🦷 Zahnarzt {RLO} RTL"
ARABIC = "موعد مع طبيب"  # "appointment with a doctor" (no lam-alef ligature: one glyph per letter)

# The characters of an element's text left to right as drawn, line by line (zero-width ones, the controls, left out).
VISUAL_TEXT = """element => {
  const chars = [];
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    let at = 0;
    for (const char of node.data) {
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + char.length);
      at += char.length;
      const box = range.getClientRects()[0];
      if (box && box.width > 0) chars.push({ char, x: box.left + box.width / 2, y: box.top, height: box.height });
    }
  }
  chars.sort((a, b) => a.y - b.y);
  let line = 0;
  chars.forEach((c, i) => { line += i && c.y - chars[i - 1].y > c.height / 2 ? 1 : 0; c.line = line; });
  chars.sort((a, b) => a.line - b.line || a.x - b.x);
  return chars.map((c) => c.char).join("");
}"""


def visual(locator: Locator) -> str:
    return locator.evaluate(VISUAL_TEXT)


@pytest.fixture(scope="module")
def stack():
    with running_stack() as running:
        yield running


def test_a_title_with_a_right_to_left_override_reorders_nothing_and_arabic_reads_right_to_left(browser, stack):
    edge = EdgeByHand(stack, name=f"edge {PDI}{RLO}7")  # a stray PDI would end its <bdi> early
    edge.publish()
    owner_token = make_token(stack, ["ingest", "read", "edit"], source="planner", name="bidi-owner")
    with api_client(stack, owner_token) as owner:
        assert owner.post("/sessions", json=session_body("bidi-1")).status_code == 202
        wait_for(lambda: owner.get("/summaries/bidi-1").json().get("status") == "SUMMARIZED", timeout=60)
        edge.put("bidi-1", {"tasks": [], "events": []})
        tasks = [
            {"title": TROJAN, "due": "2026-11-27", "priority": "high", "status": "todo"},
            {"title": ARABIC, "due": "2026-12-01", "priority": "medium", "status": "todo"},
        ]
        response = owner.patch(
            "/summaries/bidi-1/systems/planner",
            json=[{"op": "add", "path": f"/tasks/{i}", "value": task} for i, task in enumerate(tasks)],
            headers={"Content-Type": "application/json-patch+json", "If-Match": '"1"'},
        )
        assert response.status_code == 200, response.text
    edge.heartbeat(state="idle", queue={"edge": 0})

    context, page, problems = open_page(browser, 1600, 900)
    url = dashboard_url(stack, make_token(stack, ["read"], name="bidi-reader"))
    page.goto(url.replace("/#", "/?session=bidi-1&system=planner#"))
    lines = page.locator(".history-entry[data-version='2'] .diff-line")
    expect(lines).to_have_count(2)
    trojan, arabic = lines.nth(0).locator(".diff-text"), lines.nth(1).locator(".diff-text")
    shot(page, "bidi-history")

    drawn = visual(trojan)  # the JSON in the order it was written: the date as it is, the object closed at the end
    assert '"due":"2026-11-27"' in drawn and "72-11-6202" not in drawn, drawn
    assert drawn.startswith("tasks[0]: {") and drawn.endswith("}"), drawn
    assert '"title":"🦷 Zahnarzt \\u202e RTL"' in drawn, drawn  # the control shown as its JSON escape
    assert RLO not in trojan.inner_text()

    assert ARABIC in arabic.inner_text()  # the letters as they are, not escaped
    drawn = visual(arabic)  # right to left within its own string, the JSON around it in order
    assert f'"title":"{ARABIC[::-1]}"' in drawn and '"due":"2026-12-01"' in drawn, drawn
    assert drawn.startswith("tasks[1]: {") and drawn.endswith("}"), drawn

    titles = page.locator("#record-body .record-card .item-title")
    expect(titles.nth(0)).to_contain_text(TROJAN)  # prose keeps its controls, closed where its element ends
    expect(titles.nth(1)).to_have_text(ARABIC)
    assert visual(titles.nth(1)) == ARABIC[::-1]

    page.get_by_role("button", name="Raw JSON").click()
    drawn = visual(page.locator("#record-body .record-card pre.json"))
    assert '"title": "🦷 Zahnarzt \\u202e RTL"' in drawn and '"due": "2026-11-27"' in drawn, drawn

    badge = page.locator("#edge-badge .edge-state")  # the edge's name sits mid-sentence
    expect(badge).to_contain_text("online")
    assert visual(badge) == "Edge edge 7 online", visual(badge)
    assert visual(page.locator("#record-crumb-session")) == "Session bidi-1"

    page.goto(url.replace("/#", f"/?q={quote(RLO)}dentist&status=SUMMARIZED#"))  # words from the address
    scope = page.locator("#find-scope")
    expect(scope).to_contain_text("The user and status filters apply")
    assert visual(scope) == (
        "Summaries ranked by how well they match “tsitned”. The user and status filters apply to the top hits."
    ), visual(scope)
    assert page.title() == f"Search “\u2068{RLO}dentist{PDF}\u2069” · Session summaries"
    context.close()
    edge.api.close()
    assert problems == []
