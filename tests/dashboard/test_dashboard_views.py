"""The dashboard's views in a real headless Chromium against the local stack: every view has an address (deep links,
Back/Forward, reload, new tabs, pasted sign-in links), records read from their JSON Schema, the session trace and its
lineage links, the refresh panel across a reload, the 390 px layout, a session's pipeline state and the edge badge
updating live, and the offline demo model's mark."""

from __future__ import annotations

import json
import re

import pytest
from browser_helpers import dashboard_url, open_page, shot
from edge_by_hand import EdgeByHand
from playwright.sync_api import Page, expect
from stack_helpers import api_client, make_token, running_stack, session_body, wait_for

from local_stack.messages_server import ScriptedBackend, reply
from schemas.lineage import content_version
from schemas.system_definition import SystemDefinition

# What the summarizer writes for views-1: one heading per line, as the real prompt asks.
SUMMARY = """Overview
The user prepared the Q3 budget review with Priya Nair in the planner on Tuesday 2026-11-24.
People
Priya Nair, finance lead.
Commitments
None."""

# Documents whose keys are NOT in schema order once stored (the API returns them with sorted keys).
DOCUMENTS = {
    "planner": {
        "tasks": [
            {"title": "Send the budget to Priya", "due": "2026-12-01", "priority": "high", "status": "in_progress"}
        ],
        "events": [
            {
                "title": "Budget review",
                "start": "2026-12-02T09:30:00Z",
                "location": "Room Spree",
                "attendees": ["Priya Nair", "Tom Becker"],
            }
        ],
    },
    "synapse": {
        "insights": [{"text": "Subscriptions smooth out demand", "kind": "learning"}],
        "topics": ["bakery", "pricing"],
        "links": [{"from": "subscription", "to": "demand", "relation": "depends_on"}],
        "open_questions": ["How should it be priced?"],
    },
    "nudge": {
        "reminders": [
            {"text": "Take vitamin D", "trigger": {"every": "weekdays", "at_time": "08:00", "days": ["monday"]}},
            {"text": "Call Mum", "trigger": {"at": "2026-12-24T18:00:00+01:00"}},
        ],
        "habits": [{"name": "Read before bed", "cadence": "daily"}],
    },
}
# A system a user adds: $defs/$ref, labelled enum values (oneOf const/title), a date, a title given by the schema.
READING = SystemDefinition.from_dict(
    {
        "name": "reading",
        "description": "Books the user wants to read or has read.",
        "instructions": "List the books the summary mentions.",
        "schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "additionalProperties": False,
            "required": ["books"],
            "$defs": {
                "book": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["book_title", "state"],
                    "properties": {
                        "book_title": {"type": "string"},
                        "state": {
                            "oneOf": [
                                {"const": "want", "title": "Wants to read"},
                                {"const": "done", "title": "Finished"},
                            ]
                        },
                        "finished_on": {"type": "string", "format": "date"},
                        "pages": {"type": "integer", "title": "Page count"},
                    },
                }
            },
            "properties": {"books": {"type": "array", "title": "Reading list", "items": {"$ref": "#/$defs/book"}}},
        },
        "examples": [{"summary": "No books came up.", "expected": {"books": []}}],
        "max_output_tokens": 256,
    }
)
DOCUMENTS["reading"] = {
    "books": [
        {"book_title": "Journey through Genius", "state": "done", "finished_on": "2026-01-31", "pages": 320},
        {"book_title": "Gödel, Escher, Bach", "state": "want"},
    ]
}
SYSTEMS = ("nudge", "planner", "reading", "synapse")


@pytest.fixture(scope="module")
def stack():
    with running_stack(ScriptedBackend().always(reply(SUMMARY), when="Budget review with Priya")) as running:
        yield running


@pytest.fixture(scope="module")
def edge(stack):
    """Every shipped system and a user's own published; two summarized sessions with one record per system."""
    edge = EdgeByHand(stack, ("planner", "synapse", "nudge", READING))
    edge.publish()
    with api_client(stack, make_token(stack, ["ingest"], source="planner", name="views-ingest")) as client:
        for session_id, text in (("views-1", "Budget review with Priya"), ("views-2", "Budget plans for the bakery")):
            response = client.post("/sessions", json=session_body(session_id, text=text))
            assert response.status_code == 202, response.text
    with api_client(stack, make_token(stack, ["read"], name="views-reader")) as reader:
        wait_for(
            lambda: all(reader.get(f"/summaries/views-{i}").json().get("status") == "SUMMARIZED" for i in (1, 2)),
            timeout=60,
        )
        edge.drain(lambda system, _: DOCUMENTS[system])
        systems = reader.get("/summaries/views-1").json()["systems"]
        assert sorted(systems) == list(SYSTEMS), systems
    return edge


def signed_in(stack, browser, width=1280, height=900, path="", scopes=("read", "refresh"), **options):
    context, page, problems = open_page(browser, width, height, **options)
    page.goto(f"{stack.api_url}/{path}#token={make_token(stack, list(scopes), name='views')}")
    return context, page, problems


def overflow(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def field_rows(locator) -> list[list[str]]:
    """[[label, value], ...] of the direct fields of one rendered object."""
    return locator.locator(":scope > dl.fields > .field-row").evaluate_all(
        "rows => rows.map(r => [r.querySelector('dt').innerText, r.querySelector('dd').innerText])"
    )


def test_every_view_has_an_address_back_forward_reload_and_new_tabs(stack, edge, browser):
    context, page, problems = signed_in(stack, browser, path="?session=views-1&system=nudge")
    expect(page.locator("#record-heading")).to_have_text("nudge record")
    assert page.url.endswith("/?session=views-1&system=nudge")  # the token left the address bar
    page.evaluate("window.sameDocument = true")

    page.get_by_role("link", name="Session views-1").click()
    expect(page).to_have_url(re.compile(r"/\?session=views-1$"))
    expect(page.locator("#session-heading")).to_have_text("Session views-1")
    page.locator("#session-view").get_by_role("link", name="← Sessions").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("#session-view")).to_be_hidden()
    page.locator("#find-q").fill("budget")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/\?q=budget$"))
    expect(page.locator("#search-results li.result-row")).to_have_count(2)
    snippet = page.locator('li[data-summary-id="views-1"] .snippet')  # the first lines, headings left out
    expect(snippet).to_have_text(
        "The user prepared the Q3 budget review with Priya Nair in the planner on Tuesday "
        "2026-11-24. Priya Nair, finance lead."
    )
    expect(snippet.locator("mark")).to_have_text("budget")
    assert page.evaluate("window.sameDocument") is True  # no page loads so far

    for expected in (r"/$", r"\?session=views-1$", r"\?session=views-1&system=nudge$"):
        page.go_back()
        expect(page).to_have_url(re.compile(expected))
    expect(page.locator("#record-heading")).to_have_text("nudge record")
    page.go_forward()
    expect(page.locator("#session-heading")).to_have_text("Session views-1")
    expect(page.locator("#session-heading")).to_be_focused()
    page.go_forward()
    expect(page.locator("#sessions-view")).to_be_visible()
    page.go_forward()
    expect(page.get_by_label("Search summaries")).to_have_value("budget")
    expect(page.locator("#search-results li.result-row")).to_have_count(2)
    assert page.evaluate("window.sameDocument") is True

    page.go_back()
    page.go_back()
    page.reload()  # the token stays in the tab
    expect(page.locator("#session-heading")).to_have_text("Session views-1")
    assert page.evaluate("sessionStorage.getItem('ssp.token')").startswith("ssp_")

    with context.expect_page() as opened:  # a new tab from a link: its own sessionStorage, asks this tab
        page.locator('article[data-system="planner"]').get_by_role("link", name="planner", exact=True).click(
            button="middle"
        )
    tab = opened.value
    expect(tab.locator("#record-heading")).to_have_text("planner record")
    expect(tab.locator(".item-title").first).to_have_text("Send the budget to Priya")
    tab.close()

    page.goto(f"{stack.api_url}/?view=registry&kind=system")  # every top-level view is an address too
    expect(page.locator('li[data-version-id^="system:"]')).to_have_count(4)
    page.goto(f"{stack.api_url}/?entry=schema:00000000000000000000")
    expect(page.locator("#entry-state")).to_have_text("No registry entry schema:00000000000000000000 (yet).")
    context.close()
    # GET /registry/{version_id} answers the unknown entry with a 404, which Chromium logs; nothing else went wrong.
    assert problems == ["console error: Failed to load resource: the server responded with a status of 404 (Not Found)"]


def test_date_filters_find_a_session_by_its_own_date_not_the_day_it_arrived(stack, edge, browser):
    late = {
        **session_body("views-nye", text="New year's eve toast plans"),
        "started_at": "2024-12-31T23:30:00-08:00",  # 2025-01-01 in UTC, and it arrives today
        "ended_at": "2024-12-31T23:45:00-08:00",
    }
    with api_client(stack, make_token(stack, ["ingest"], source="planner", name="views-late")) as client:
        assert client.post("/sessions", json=late).status_code == 202
    with api_client(stack, make_token(stack, ["read"], name="views-late-reader")) as reader:
        wait_for(
            lambda: (
                "views-nye"
                in {hit["summary_id"] for hit in reader.get("/search", params={"q": "toast"}).json()["items"]}
            ),
            timeout=60,
        )
    context, page, problems = signed_in(stack, browser, path="?from=2024-12-31&to=2025-01-01")
    expect(page.locator('tr[data-summary-id="views-nye"]')).to_be_visible()
    expect(page.locator('tr[data-summary-id="views-1"]')).to_have_count(0)
    expect(page.locator("#find-scope")).to_contain_text("2024-12-31 to 2025-01-01 (each session's own date)")
    page.goto(f"{stack.api_url}/?from=2025-01-01&to=2025-01-01")
    expect(page.locator("#find-state")).to_have_text("No sessions match these filters yet.")
    page.goto(f"{stack.api_url}/?q=toast&from=2024-12-31&to=2024-12-31")
    expect(page.locator('li[data-summary-id="views-nye"]')).to_be_visible()
    page.goto(f"{stack.api_url}/?q=toast&from=2025-01-01&to=2025-01-01")
    expect(page.locator('li[data-summary-id="views-nye"]')).to_have_count(0)
    context.close()
    assert problems == []


def test_a_pasted_link_signs_in_with_its_token_and_drops_it_from_the_address(stack, edge, browser):
    context, page, problems = open_page(browser, 1280, 800)
    page.goto(f"{stack.api_url}/#token={make_token(stack, ['ingest'], source='planner', name='wrong')}")
    expect(page.get_by_role("alert")).to_have_text(re.compile("lacks the read scope", re.I))

    reader = make_token(stack, ["read"], name="pasted")
    page.goto(f"{stack.api_url}/?session=views-2#token={reader}")
    expect(page.locator("#session-heading")).to_have_text("Session views-2")
    expect(page.get_by_role("alert")).to_be_hidden()
    assert page.url.endswith("/?session=views-2")
    assert page.evaluate("sessionStorage.getItem('ssp.token')") == reader

    other = make_token(stack, ["read"], name="pasted-again")  # same page, only the fragment differs: no load
    with page.expect_navigation():
        page.evaluate(f"location.hash = 'token={other}'")
    expect(page).to_have_url(re.compile(r"/\?session=views-2$"))
    expect(page.locator("#session-heading")).to_have_text("Session views-2")
    assert page.evaluate("sessionStorage.getItem('ssp.token')") == other
    context.close()
    assert [p for p in problems if "403" not in p] == []  # the wrong token's refused call


def test_records_read_from_their_schema_in_the_readers_time_zone(stack, edge, browser):
    context, page, problems = signed_in(
        stack, browser, path="?session=views-1", locale="en-US", timezone_id="America/Los_Angeles"
    )
    card = {system: page.locator(f'article.record-card[data-system="{system}"]') for system in SYSTEMS}
    for system in SYSTEMS:
        expect(card[system].locator(".readable-section").first).to_be_visible()
    sections = {
        system: card[system].locator(".readable-section").evaluate_all("s => s.map(e => e.dataset.key)")
        for system in SYSTEMS
    }
    assert sections == {  # schema order, not the stored (alphabetical) order
        "planner": ["tasks", "events"],
        "synapse": ["insights", "topics", "links", "open_questions"],
        "nudge": ["reminders", "habits"],
        "reading": ["books"],
    }

    planner = card["planner"]
    expect(planner.locator(".readable-section h5")).to_have_text(["Tasks", "Events"])
    task, event = planner.locator("li.item").nth(0), planner.locator("li.item").nth(1)
    expect(task.locator(".item-title")).to_have_text("Send the budget to Priya")
    assert field_rows(task) == [["Due", "Tue, Dec 1, 2026"], ["Priority", "High"], ["Status", "In progress"]]
    assert field_rows(event)[0] == ["Start", "Wed, Dec 2, 2026, 1:30 AM PST"]  # 09:30 UTC in Los Angeles
    assert [row[0] for row in field_rows(event)] == ["Start", "Location", "Attendees"]  # no End: not present
    expect(event.locator("ul.values > li")).to_have_text(["Priya Nair", "Tom Becker"])
    expect(task.locator('.field-row[data-key="priority"] .enum')).to_have_attribute("data-value", "high")

    synapse = card["synapse"]
    insight = synapse.locator('[data-key="insights"] li.item')
    expect(insight.locator(".item-title")).to_have_text("Subscriptions smooth out demand")
    assert field_rows(insight) == [["Kind", "Learning"]]
    expect(synapse.locator('[data-key="topics"] ul.values > li')).to_have_text(["bakery", "pricing"])
    link = synapse.locator('[data-key="links"] li.item')
    expect(link.locator(".item-title")).to_have_count(0)  # no title-like field: every field in order
    assert field_rows(link) == [["From", "subscription"], ["To", "demand"], ["Relation", "Depends on"]]

    nudge = card["nudge"]
    repeat, once = nudge.locator('[data-key="reminders"] li.item').nth(0), nudge.locator("li.item").nth(1)
    trigger = repeat.locator('.field-row[data-key="trigger"] > dd')  # the anyOf branch the value matches
    assert field_rows(trigger) == [["Every", "Weekdays"], ["At time", "08:00"], ["Days", "Monday"]]
    assert field_rows(once.locator('.field-row[data-key="trigger"] > dd')) == [["At", "Thu, Dec 24, 2026, 9:00 AM PST"]]

    reading = card["reading"]  # a user's own system, read from its own schema
    expect(reading.locator(".readable-section h5")).to_have_text("Reading list")
    books = reading.locator("li.item")
    expect(books.locator(".item-title")).to_have_text(["Journey through Genius", "Gödel, Escher, Bach"])
    assert field_rows(books.nth(0)) == [
        ["State", "Finished"],
        ["Finished on", "Sat, Jan 31, 2026"],
        ["Page count", "320"],
    ]
    assert field_rows(books.nth(1)) == [["State", "Wants to read"]]
    shot(page, "30-readable-records")

    raw = planner.get_by_label("planner JSON")
    toggle = planner.get_by_role("button", name="Raw JSON")
    expect(raw).to_be_hidden()
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(planner.locator(".readable-host")).to_be_hidden()
    assert json.loads(raw.inner_text()) == DOCUMENTS["planner"]
    toggle.click()
    expect(raw).to_be_hidden()
    expect(planner.locator(".readable-host")).to_be_visible()
    context.close()
    assert problems == []


def test_the_session_trace_links_every_lineage_id_to_its_registry_entry(stack, edge, browser):
    context, page, problems = signed_in(stack, browser, path="?session=views-1")
    summary = api_client(stack, make_token(stack, ["read"], name="trace")).get("/summaries/views-1").json()
    steps = page.locator(".trace > li")
    expect(steps).to_have_count(3)
    assert steps.evaluate_all("s => s.map(e => e.dataset.step)") == ["received", "summary", "records"]
    summary_step = steps.nth(1)
    latency = summary["latency_ms"]
    model_call = f"{latency} ms" if latency < 1000 else f"{latency / 1000:.1f} s"
    expect(summary_step.locator(".fact", has_text="Model call")).to_contain_text(model_call)
    expect(summary_step.locator(".fact", has_text="Tokens")).to_contain_text(f"{summary['usage']['input_tokens']:,} in")
    expect(summary_step.locator(".fact", has_text="Cost")).to_contain_text("$")
    planner = page.locator('article.record-card[data-system="planner"]')
    expect(planner.locator(".record-timing")).to_contain_text("after the session was received")
    expect(planner.locator(".record-timing")).not_to_contain_text("translated in")  # written without translate_ms
    expect(summary_step.locator(".fact", has_text="Pipeline").locator("dd")).to_have_text("stored · 4 systems")
    summarized = summary_step.locator(".fact").filter(has=page.get_by_text("Summarized", exact=True))
    expect(summarized).to_contain_text("after it was received")
    shot(page, "31-session-trace")

    lineage = {
        "summarizer_model_version": summary["summarizer_model_version"],
        "summarizer_prompt_version": summary["summarizer_prompt_version"],
        **edge.lineage("planner"),
        "definition_version": edge.systems["planner"].definition_version,
    }
    for field, version in lineage.items():
        where = (
            '.trace-step[data-step="summary"]' if field.startswith("summarizer") else 'article[data-system="planner"]'
        )
        page.locator(f'{where} a[data-lineage="{field}"]').click()
        expect(page).to_have_url(re.compile(rf"\?entry={re.escape(version.replace(':', '%3A'))}$"))
        expect(page.locator("#entry-heading")).to_have_text(version)
        expect(page.locator("#entry-body code.version-id")).to_have_text(version)
        if field == "schema_version":
            expect(page.locator("#entry-body .outline > li").first).to_contain_text("tasks — list of object")
            shot(page, "32-registry-entry-schema")
        if field == "translator_model_version":
            expect(page.locator("#entry-body")).to_contain_text("hand-written-translations")
        page.go_back()
        expect(page.locator("#session-heading")).to_have_text("Session views-1")
    context.close()
    assert problems == []


def test_a_record_made_with_a_tuned_adapter_names_it_in_its_lineage_and_history(stack, edge, browser):
    adapter = {"system": "nudge", "base_model_version": edge.lineage("nudge")["translator_model_version"], "rank": 4}
    version = content_version("translator-adapter", adapter)
    stored = edge.api.put(f"/edge/registry/{version}", json={"kind": "translator-adapter", "content": adapter})
    assert stored.status_code in (200, 201), stored.text
    tuned = DOCUMENTS["nudge"] | {"habits": [{"name": "Stretch after lunch", "cadence": "daily"}]}
    edge.put("views-1", tuned, system="nudge", adapter_version=version)
    reader = api_client(stack, make_token(stack, ["read"], name="adapter"))
    records = {r["system"]: r for r in reader.get("/summaries/views-1").json()["records"]}
    assert records["nudge"]["translator_adapter_version"] == version, records["nudge"]
    context, page, problems = signed_in(stack, browser, path="?session=views-1", scopes=("read",))
    nudge = page.locator('article.record-card[data-system="nudge"]')
    nudge.locator('a[data-lineage="translator_adapter_version"]').click()
    expect(page).to_have_url(re.compile(rf"\?entry={re.escape(version.replace(':', '%3A'))}$"))
    expect(page.locator("#entry-body code.version-id")).to_have_text(version)
    expect(page.locator("#entry-body")).to_contain_text("nudge")
    page.go_back()
    planner = page.locator('article.record-card[data-system="planner"]')  # made without one: no adapter badge
    expect(planner.locator('[data-lineage="translator_model_version"]')).to_be_visible()
    expect(planner.locator('[data-lineage="translator_adapter_version"]')).to_have_count(0)
    context.close()
    assert problems == []


def test_the_conversation_and_translation_time_come_from_the_api(stack, edge, browser):
    """GET /summaries/{id}/conversation serves the session as received; a record uploaded with translate_ms says how
    long its translation took."""
    edge.put("views-1", DOCUMENTS["nudge"] | {"habits": []}, system="nudge", translate_ms=1500)
    context, page, problems = signed_in(stack, browser, path="?session=views-1", scopes=("read",))
    with page.expect_response(lambda r: r.url.endswith("/summaries/views-1/conversation")) as answer:
        page.get_by_role("button", name="Show conversation").click()
    assert answer.value.status == 200
    turns = page.locator(".turn .turn-text")
    expect(turns).to_have_text(["Budget review with Priya", "Noted."])
    expect(page.get_by_role("button", name="Hide conversation")).to_have_attribute("aria-expanded", "true")
    expect(page.locator('article[data-system="nudge"] .record-timing')).to_contain_text("translated in 1.5 s")
    expect(page.locator('article[data-system="planner"] .record-timing')).not_to_contain_text("translated in")
    context.close()
    assert problems == []


def test_the_refresh_panel_follows_requests_across_a_reload(stack, edge, browser):
    context, page, problems = signed_in(stack, browser, path="?session=views-2")
    with page.expect_response(lambda r: r.url.endswith("/refresh") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="Re-translate every system").click()
    request_id = answer.value.json()["request_id"]
    row = page.locator(f'.refresh-item[data-request-id="{request_id}"]')
    expect(row).to_have_attribute("data-state", "queued")
    expect(row.locator(".refresh-progress")).to_have_text("queued · 0/4 translated · new request")
    expect(page).to_have_url(re.compile(rf"\?session=views-2&refresh={request_id}$"))  # the address follows it

    edge.put("views-2", DOCUMENTS["planner"] | {"tasks": []}, request_id, "planner")  # one of four done
    expect(row).to_have_attribute("data-state", "in_progress")  # the API's own state names
    expect(row.locator(".refresh-progress")).to_have_text("in progress · 1/4 translated · new request")
    page.reload()
    expect(row).to_have_attribute("data-state", "in_progress")  # remembered by the tab, asked again
    expect(row.locator(".refresh-progress")).to_contain_text("in progress · 1/4 translated")
    shot(page, "33-refresh-after-reload")

    # The address alone is enough: a new tab (no sessionStorage) opened on it follows the request too.
    other, other_page, other_problems = signed_in(stack, browser, path=f"?session=views-2&refresh={request_id}")
    other_row = other_page.locator(f'.refresh-item[data-request-id="{request_id}"]')
    expect(other_row).to_have_attribute("data-state", "in_progress")
    expect(other_row.locator(".refresh-what")).to_have_text("summary id views-2")

    edge.drain(lambda system, _: DOCUMENTS[system])  # the other three
    for followed in (row, other_row):
        expect(followed).to_have_attribute("data-state", "done")
        expect(followed.locator(".refresh-progress")).to_contain_text("done · 4/4 translated")
    assert page.evaluate("JSON.parse(sessionStorage.getItem('ssp.refresh'))") == []  # nothing left to follow
    expect(page).to_have_url(re.compile(r"\?session=views-2$"))
    page.reload()
    expect(page.locator("#session-heading")).to_have_text("Session views-2")
    expect(page.locator(".refresh-item")).to_have_count(0)
    other.close()
    context.close()
    assert problems == [] and other_problems == []


TAP_TARGETS = """() => [...document.querySelectorAll('a, button, input, select, summary')]
  .filter(e => e.offsetParent !== null && !e.closest('.visually-hidden, .skip-link'))
  .map(e => ({what: e.outerHTML.slice(0, 80), w: e.getBoundingClientRect().width,
              h: e.getBoundingClientRect().height}))
  .filter(t => t.w < 44 || t.h < 44)"""


def test_a_phone_sees_sessions_first_without_sideways_scrolling_and_with_44px_targets(stack, edge, browser):
    context, page, problems = signed_in(stack, browser, 390, 844)
    first = page.locator("#summary-rows tr").first
    expect(first).to_be_visible()
    box = first.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 844, box  # the first session fits the first screen
    assert page.evaluate("window.scrollY") == 0
    assert overflow(page) <= 0
    assert page.evaluate(TAP_TARGETS) == []
    shot(page, "34-phone-list")
    for path, ready in (
        ("?session=views-1", ".readable-section"),
        ("?session=views-1&system=synapse", ".history-entry"),
        (f"?entry={edge.systems['planner'].schema_version}", ".outline"),
        ("?q=budget", "li.result-row"),
    ):
        page.goto(f"{stack.api_url}/{path}")
        expect(page.locator(ready).first).to_be_visible()
        assert overflow(page) <= 0, path
        assert page.evaluate(TAP_TARGETS) == [], path
    context.close()
    assert problems == []


def test_a_new_session_goes_queued_translating_stored_live_with_the_edge_badge(stack, edge, browser):
    context, page, problems = open_page(browser, 1280, 900)
    page.goto(dashboard_url(stack, make_token(stack, ["read"], name="pipeline")))
    expect(page.locator("#live-status")).to_have_attribute("data-state", "on")
    badge = page.locator("#edge-badge")
    expect(badge).to_have_text("Edge: not seen yet")
    with api_client(stack, make_token(stack, ["ingest"], source="planner", name="views-ingest-3")) as client:
        response = client.post("/sessions", json=session_body("views-3", text="Budget plans for the bakery"))
        assert response.status_code == 202, response.text
    pipeline = page.locator('tr[data-summary-id="views-3"] .pipeline')
    summarized = "queued · the edge worker is offline"  # summarized, and no edge has reported yet
    expect(pipeline).to_have_text(summarized, timeout=60_000)  # a summary can take long on a busy machine

    started = {"reason": "new", "started_at": "2026-11-30T09:00:00Z"}
    job = {**started, "summaries": [{"summary_id": "views-3", "done": 0, "total": 4}]}
    edge.heartbeat(state="translating", job=job, queue={"edge": 2, "backfill": 0}, seconds_per_summary=30)
    expect(pipeline).to_have_text("translating · 0/4 systems")  # live: no reload, no polling of the list
    expect(badge).to_have_attribute("data-state", "translating")
    parts = badge.locator(":scope > span")
    expect(parts).to_have_text(
        ["Edge edge-by-hand online", "hand-written-translations", "queue 2", "translating views-3 (0/4)"]
    )
    shot(page, "35-translating-live")
    for done, system in enumerate(SYSTEMS, start=1):
        edge.put("views-3", DOCUMENTS[system], system=system)
        progress = {**started, "summaries": [{"summary_id": "views-3", "done": done, "total": 4}]}
        edge.heartbeat(state="translating", job=progress, queue={"edge": 1}, seconds_per_summary=30)
        expect(pipeline).to_have_text(f"translating · {done}/4 systems")
    edge.heartbeat(state="idle", queue={"edge": 0}, seconds_per_summary=30)
    expect(pipeline).to_have_text("stored · 4 systems")
    expect(badge.locator(".edge-job")).to_have_text("idle")
    edge.drain(lambda system, _: DOCUMENTS[system])  # its translate request: every record is there already

    page.goto(f"{stack.api_url}/?session=views-3")
    expect(page.locator(".fact", has_text="Pipeline").locator("dd")).to_have_text("stored · 4 systems")
    context.close()
    assert problems == []


def test_the_offline_demo_model_is_marked_on_the_edge_badge_and_on_its_records(stack, edge, browser):
    demo_model = {"model_id": "SmolLM2-135M-Instruct-Q4_1-mlx", "weights_digest": "sha256:demo"}
    demo = EdgeByHand(stack, ("planner",), translator_model=demo_model, name="demo-mac")
    demo.publish()
    demo.put("views-2", DOCUMENTS["planner"] | {"events": []})
    demo.heartbeat(state="idle", queue={"edge": 0})
    context, page, problems = signed_in(stack, browser, path="?session=views-2")
    badge = page.locator("#edge-badge")
    expect(badge.locator(".edge-model")).to_have_text("SmolLM2-135M-Instruct-Q4_1-mlxoffline demo model")
    planner = page.locator('article.record-card[data-system="planner"]')
    expect(planner.locator(".demo-model .demo-model-tag")).to_have_text("offline demo model")
    expect(page.locator('article.record-card[data-system="nudge"] .demo-model')).to_have_count(0)
    page.locator('article.record-card[data-system="planner"] a.record-link').click()
    expect(page.locator("#record-heading")).to_have_text("planner record")
    expect(page.locator("#record-body .demo-model")).to_be_visible()
    demo.api.close()
    context.close()
    assert problems == []
