"""Regenerate docs/screenshots/: every dashboard view at desktop (1280x800) and phone (390x844) width, against a
local stack with readable scripted summaries and hand-written records (no model, about a minute).

    PYTHONPATH=tests .venv/bin/python tests/dashboard/screenshots.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

from browser_helpers import CHROMIUM, CHROMIUM_ARGS
from edge_by_hand import EdgeByHand
from playwright.sync_api import Page, expect, sync_playwright
from stack_helpers import api_client, make_token, running_stack, session_body, wait_for

from local_stack.messages_server import ScriptedBackend, reply

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}

# session id -> (source, what the user said, the summary the summarizer "writes", a document per system)
SESSIONS = {
    "budget-review": (
        "planner",
        "Send Priya the revised Q3 budget by Wednesday; the review with Priya and Tom is Thursday 10:00 in Spree.",
        """Overview
The user prepared the Q3 budget review in the planner on Monday 2025-03-17 (+01:00). They promised the revised \
budget spreadsheet to Priya Nair and booked the review meeting.
People
Priya Nair, finance lead, receives the spreadsheet. Tom Becker attends the review.
Commitments
The user will send the revised Q3 budget spreadsheet to Priya Nair by Wednesday 2025-03-19 (urgent: finance locks \
the numbers that afternoon).
Reminders
Thursday 2025-03-20 at 10:00 (+01:00): Q3 budget review in meeting room Spree.
Insights
The user prefers to finish budget work early in the week.
Open questions
Whether the travel budget moves to Q4.""",
        {
            "planner": {
                "tasks": [
                    {
                        "title": "Send the revised Q3 budget to Priya Nair",
                        "due": "2025-03-19",
                        "priority": "high",
                        "status": "todo",
                    },
                    {"title": "Decide on the Q4 travel budget", "due": None, "priority": "medium", "status": "blocked"},
                ],
                "events": [
                    {
                        "title": "Q3 budget review",
                        "start": "2025-03-20T10:00:00+01:00",
                        "end": "2025-03-20T11:30:00+01:00",
                        "location": "Meeting room Spree",
                        "attendees": ["Priya Nair", "Tom Becker"],
                    }
                ],
            },
            "synapse": {
                "insights": [
                    {"text": "Finance locks the quarter's numbers on Wednesday afternoons.", "kind": "learning"},
                    {"text": "Budget work goes early in the week.", "kind": "preference"},
                ],
                "topics": ["Q3 budget", "travel budget"],
                "links": [{"from": "travel budget", "to": "Q3 budget", "relation": "depends_on"}],
                "open_questions": ["Does the travel budget move to Q4?"],
            },
            "nudge": {
                "reminders": [
                    {"text": "Send the Q3 budget to Priya", "trigger": {"at": "2025-03-19T09:00:00+01:00"}},
                    {"text": "Review the budget numbers", "trigger": {"every": "weekly", "at_time": "08:30"}},
                ],
                "habits": [],
            },
        },
    ),
    "sourdough-idea": (
        "synapse",
        "What if the bakery sold weekly sourdough subscriptions to cut waste on quiet days?",
        """Overview
The user explored a weekly sourdough subscription for the bakery in synapse on Tuesday 2025-04-08.
Insights
Subscriptions could smooth out demand and reduce bread thrown away on quiet days.
Open questions
How to price the subscription.""",
        {
            "planner": {"tasks": [], "events": []},
            "synapse": {
                "insights": [{"text": "Weekly subscriptions could smooth out bakery demand.", "kind": "idea"}],
                "topics": ["sourdough subscription", "food waste"],
                "links": [{"from": "sourdough subscription", "to": "food waste", "relation": "leads_to"}],
                "open_questions": ["How should the subscription be priced?"],
            },
            "nudge": {"reminders": [], "habits": []},
        },
    ),
    "vitamin-d": (
        "nudge",
        "Remind me to take vitamin D every morning at 8, and to read 20 pages before bed.",
        """Overview
The user set up daily routines in nudge on Friday 2025-05-02 (+02:00).
Reminders
Every day at 08:00 (+02:00): take vitamin D.
Insights
The user wants to read 20 pages every night.""",
        {
            "planner": {"tasks": [], "events": []},
            "synapse": {"insights": [], "topics": ["routines"], "links": [], "open_questions": []},
            "nudge": {
                "reminders": [{"text": "Take vitamin D", "trigger": {"every": "daily", "at_time": "08:00"}}],
                "habits": [{"name": "Read before bed", "cadence": "daily", "goal": "20 pages a night"}],
            },
        },
    ),
}


# A session the edge is translating while the screenshots are taken (one of its three systems stored).
IN_FLIGHT = {
    "dentist-friday": (
        "planner",
        "Book the dentist for Friday morning, the tooth still hurts.",
        """Overview
The user asked the planner on Wednesday 2025-06-04 to book a dentist appointment for Friday 2025-06-06 morning; a tooth still hurts.
Commitments
Book the dentist for Friday 2025-06-06, morning.""",
        {
            "planner": {
                "tasks": [{"title": "Book the dentist", "due": "2025-06-06", "priority": "high", "status": "todo"}],
                "events": [],
            }
        },
    )
}


def post_sessions(stack, sessions: dict) -> None:
    for session_id, (source, text, _, _) in sessions.items():
        with api_client(stack, make_token(stack, ["ingest"], source=source, name=source)) as client:
            response = client.post("/sessions", json=session_body(session_id, source=source, text=text))
            assert response.status_code == 202, response.text
    with api_client(stack, make_token(stack, ["read"], name="screenshots")) as reader:
        wait_for(lambda: all(reader.get(f"/summaries/{i}").json().get("status") == "SUMMARIZED" for i in sessions))


def translating(edge: EdgeByHand) -> None:
    """The in-flight session summarized, its planner record stored."""
    post_sessions(edge.stack, IN_FLIGHT)
    [(session_id, (_, _, _, documents))] = IN_FLIGHT.items()
    edge.put(session_id, documents["planner"], translate_ms=2300)


def report_job(edge: EdgeByHand) -> None:
    """The edge reports the in-flight job (1 of 3 systems stored) and its queue (online for the next 3 minutes)."""
    [session_id] = IN_FLIGHT
    job = {"summaries": [{"summary_id": session_id, "done": 1, "total": 3}], "reason": "new"}
    edge.heartbeat(
        state="translating",
        job={**job, "started_at": "2025-06-04T09:00:00Z"},
        queue={"edge": 1, "backfill": 0},
        seconds_per_summary=42,
    )


def capture(page: Page, name: str, size: str) -> None:
    page.wait_for_load_state("networkidle")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(OUT / f"{name}-{size}.png"))


def views(page: Page, base: str, planner_schema: str, size: str) -> None:
    page.goto(f"{base}/")
    expect(page.locator("#summary-rows tr")).to_have_count(len(SESSIONS) + len(IN_FLIGHT))
    expect(page.locator(".pipeline[data-state='translating']")).to_be_visible()
    expect(page.locator("#edge-badge .edge-job")).to_contain_text("translating")
    capture(page, "sessions", size)
    page.goto(f"{base}/?q=budget+Priya")
    expect(page.locator("li.result-row mark").first).to_be_visible()
    capture(page, "search", size)
    page.goto(f"{base}/?session=budget-review")
    expect(page.locator(".readable-section").first).to_be_visible()
    capture(page, "session", size)
    page.locator(".trace-step[data-step='records']").scroll_into_view_if_needed()
    page.screenshot(path=str(OUT / f"session-records-{size}.png"))
    page.goto(f"{base}/?session=budget-review&system=planner")
    expect(page.locator(".history-entry").first).to_be_visible()
    page.get_by_role("button", name="Refresh planner").click()
    expect(page.locator(".refresh-item[data-state='queued']")).to_be_visible()
    capture(page, "record", size)
    page.goto(f"{base}/?entry={planner_schema}")
    expect(page.locator(".outline").first).to_be_visible()
    capture(page, "registry-entry", size)
    for name, path, ready in (
        ("systems", "?view=systems", "#systems-body article"),
        ("registry", "?view=registry&kind=system", "#registry-list li"),
        ("costs", "?view=costs", "rect.bar"),
    ):
        page.goto(f"{base}/{path}")
        expect(page.locator(ready).first).to_be_attached()
        capture(page, name, size)


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    backend = ScriptedBackend()
    for _, text, summary, _ in [*SESSIONS.values(), *IN_FLIGHT.values()]:
        backend.always(reply(summary), when=text)
    with running_stack(backend) as stack:
        edge = EdgeByHand(stack, ("planner", "synapse", "nudge"))
        edge.publish()
        post_sessions(stack, SESSIONS)
        edge.drain(lambda system, summary_id: SESSIONS[summary_id][3][system])
        changed = SESSIONS["budget-review"][3]["planner"]
        second = {**changed, "tasks": changed["tasks"][:1]}
        edge.put("budget-review", second, translate_ms=1840)  # a second version, for the history
        translating(edge)
        token = make_token(stack, ["read", "refresh"], name="screenshots")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for size, (width, height) in SIZES.items():
                context = browser.new_context(
                    viewport={"width": width, "height": height},
                    locale="en-US",
                    timezone_id="Europe/Berlin",
                    color_scheme="light",
                )
                page = context.new_page()
                report_job(edge)
                page.goto(f"{stack.api_url}/#token={token}&ws={stack.websocket_api.url}")
                views(page, stack.api_url, edge.systems["planner"].schema_version, size)
                context.close()
                signed_out = browser.new_context(viewport={"width": width, "height": height}, color_scheme="light")
                page = signed_out.new_page()
                page.goto(stack.api_url)
                capture(page, "sign-in", size)
                signed_out.close()
            browser.close()
    print(f"wrote {len(list(OUT.glob('*.png')))} screenshots to {OUT}")


if __name__ == "__main__":
    main()
