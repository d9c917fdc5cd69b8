"""Similarity search in the dashboard, in a real headless Chromium against the local stack (no edge worker runs, so
every answer is lexical): the one search box, its filters and errors, snippets with the matched words highlighted,
and the session view's "Similar sessions" panel."""

from __future__ import annotations

import json
import re

import pytest
from browser_helpers import dashboard_url, open_page, shot
from playwright.sync_api import Page, expect
from stack_helpers import api_client, make_token, running_stack, session_body, wait_for

# The scripted summarizer ends each summary with the tail of the session's text, so short texts show up whole.
SESSIONS = {
    "search-dentist-a": ("planner", "Book the dentist for Friday at nine, the tooth still hurts"),
    "search-dentist-b": ("planner", "Book the dentist for Friday at nine please, the tooth still hurts"),
    "search-hiking": ("planner", "Plan a hiking trip to the Alps in July with Sam and Lea"),
    "search-groceries": ("planner", "Buy groceries on the way home: milk, eggs, bread and coffee"),
    "search-taxes": ("planner", "File the tax return and pay the council bill by March"),
    "search-journal": ("journal", "Journal entry about the hiking trip to the Alps"),
}
TOPIC_WORDS = {
    "search-dentist-a": "tooth",
    "search-dentist-b": "tooth",
    "search-hiking": "hiking",
    "search-groceries": "groceries",
    "search-taxes": "council",
    "search-journal": "Journal",
}
WORDS_ONLY = re.compile(r"words only — .*(offline|embedding)")


@pytest.fixture(scope="module")
def stack():
    with running_stack() as running:
        yield running


@pytest.fixture(scope="module")
def indexed(stack):
    """Post the sessions, wait until every one is summarized and found by GET /search."""
    for source in {source for source, _ in SESSIONS.values()}:
        with api_client(stack, make_token(stack, ["ingest"], source=source, name=source)) as client:
            for session_id, (session_source, text) in SESSIONS.items():
                if session_source == source:
                    response = client.post("/sessions", json=session_body(session_id, source=source, text=text))
                    assert response.status_code == 202, response.text
    with api_client(stack, make_token(stack, ["read"], name="search-reader")) as reader:
        wait_for(
            lambda: all(reader.get(f"/summaries/{i}").json().get("status") == "SUMMARIZED" for i in SESSIONS),
            timeout=60,
            interval=0.5,
        )
        for session_id, word in TOPIC_WORDS.items():  # the topics are in the summaries the index is built from
            assert word in reader.get(f"/summaries/{session_id}").json()["text"]

        def all_found():
            response = reader.get("/search", params={"q": "tooth hiking groceries council journal", "k": 50})
            assert response.status_code == 200, response.text
            return {item["summary_id"] for item in response.json()["items"]} == set(SESSIONS)

        wait_for(all_found, timeout=60, interval=0.5)
        answer = reader.get("/search", params={"q": "hiking trip Alps"}).json()
        assert answer["mode"] == "lexical" and answer["semantic"]["used"] is False, answer
    return stack


def results(page: Page):
    return page.locator("#search-results")


def search_for(page: Page, query: str, **filters: str) -> None:
    form = page.get_by_role("search", name="Find sessions")
    form.get_by_label("Search summaries").fill(query)
    details = form.locator("details")
    if filters and not details.evaluate("d => d.open"):
        details.locator("summary").click()
    if details.evaluate("d => d.open"):
        for name, value in {"source": "", "user": "", "from": "", "to": "", **filters}.items():
            form.locator(f'[name="{name}"]').fill(value)
    with page.expect_response(lambda r: "/search?" in r.url):
        form.get_by_role("button", name="Search").click()


def expected_problems(problems: list[str]) -> list[str]:
    """Chromium logs every 4xx answer as a console error; the ones this test asks for are expected."""
    return [p for p in problems if not re.search(r"status of (400|409)", p)]


def test_search_box_ranks_filters_and_reports_errors(indexed, browser):
    context, page, problems = open_page(browser, 1280, 900)
    page.goto(dashboard_url(indexed, make_token(indexed, ["read"], name="search-box")))
    expect(page.locator('tr[data-summary-id="search-hiking"]')).to_be_visible()

    search_for(page, "hiking trip Alps July Sam")
    expect(page).to_have_url(re.compile(r"\?q=hiking\+trip\+Alps\+July\+Sam$"))
    expect(page.locator("#summary-table")).to_be_hidden()  # one list at a time: the ranked answer
    rows = results(page).locator("li.result-row")
    expect(rows.first).to_have_attribute("data-summary-id", "search-hiking")
    expect(rows).to_have_count(2)  # the journal entry shares hiking, trip and Alps
    expect(results(page).locator(".search-mode")).to_have_text(WORDS_ONLY)
    expect(results(page).locator(".search-mode")).to_have_attribute("data-mode", "lexical")
    first = rows.first
    expect(first.locator(".result-source")).to_contain_text("planner")
    expect(first.locator(".result-score")).to_contain_text(re.compile(r"score 1\.00 +words 1\.00 · embeddings —"))
    expect(first.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d{2}-\d{2}T"))
    # the API's snippet: the line with the most query words, each marked where the API says
    snippet = first.locator(".snippet")
    expect(snippet).to_have_attribute("data-from", "api")
    expect(snippet).to_contain_text("Plan a hiking trip to the Alps in July with Sam and Lea")
    expect(snippet.locator("mark")).to_have_text(["hiking", "trip", "Alps", "July", "Sam"])
    expect(page.locator("#find-state")).to_have_text("2 matches.")
    shot(page, "20-search-results")

    search_for(page, "hiking trip Alps", source="journal")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-summary-id", "search-journal")
    expect(page.locator("#filter-count")).to_have_text("(1 on)")

    search_for(page, "hiking trip Alps", user="someone-else")  # the API has no user filter: applied to the hits
    expect(page.locator("#find-state")).to_have_text("No matches for “hiking trip Alps” with these filters.")
    search_for(page, "hiking trip Alps", user="user-1")
    expect(rows).to_have_count(2)

    search_for(page, "zebra xylophone")
    expect(page.locator("#find-state")).to_have_text("No matches for “zebra xylophone”.")
    expect(page.locator("#find-state")).to_have_attribute("data-kind", "empty")
    expect(rows).to_have_count(0)
    expect(results(page).locator(".search-mode")).to_have_text(WORDS_ONLY)  # the mode line stays
    search_for(page, "dentist", **{"from": "2099-01-01"})
    expect(page.locator("#find-state")).to_have_text("No matches for “dentist” with these filters.")
    shot(page, "21-search-no-matches")

    error = page.locator('#find-state[data-kind="error"]')
    search_for(page, "the and of")
    expect(error).to_contain_text("no searchable words")
    expect(results(page)).to_be_empty()
    search_for(page, "dentist", **{"from": "2025-12-31", "to": "2025-01-01"})
    expect(error).to_contain_text("from (2025-12-31) is after to (2025-01-01)")
    shot(page, "22-search-error")

    page.get_by_role("link", name="Clear").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(results(page)).to_be_empty()
    expect(page.locator('tr[data-summary-id="search-hiking"]')).to_be_visible()  # back to the plain list
    expect(page.get_by_label("Search summaries")).to_be_focused()
    expect(page.get_by_label("Search summaries")).to_have_value("")
    context.close()
    assert expected_problems(problems) == []


def test_snippets_from_the_api_are_highlighted_where_it_says(indexed, browser):
    """An answer with a snippet in each shape the dashboard reads (ranges, or a plain string marked by words)."""
    context, page, problems = open_page(browser, 1280, 900)
    page.goto(dashboard_url(indexed, make_token(indexed, ["read"], name="snippets")))
    text = "🦷 Book the dentist for Friday; the tooth still hurts"  # one code point, two UTF-16 units
    ranges = [[text.index(word), text.index(word) + len(word)] for word in ("dentist", "tooth")]  # code points
    answer = {
        "query": {"text": "tooth ache"},
        "mode": "lexical",
        "k": 10,
        "semantic": {"used": False, "reason": "no summary has an embedding yet", "embedding_version": None},
        "items": [
            {
                "summary_id": "search-dentist-a",
                "source": "planner",
                "day": "2025-03-14",
                "score": 1.0,
                "lexical": 1.0,
                "semantic": None,
                "snippet": {"text": text, "highlights": ranges},
            },
            {
                "summary_id": "search-dentist-b",
                "source": "planner",
                "day": "2025-03-14",
                "score": 0.9,
                "lexical": 0.9,
                "semantic": None,
                "snippet": "…the Tooth still hurts, says the toothache diary",
            },
        ],
    }
    page.route(
        "**/search?q=tooth+ache*",
        lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(answer)),
    )
    with page.expect_response(lambda r: "/search?" in r.url):
        page.goto(f"{indexed.api_url}/?q=tooth+ache")  # a search has an address: reload or share it
    rows = results(page).locator("li.result-row")
    expect(rows.nth(0).locator(".snippet")).to_have_text(text)
    expect(rows.nth(0).locator(".snippet mark")).to_have_text(["dentist", "tooth"])  # the API's ranges
    expect(rows.nth(0).locator(".snippet")).to_have_attribute("data-from", "api")
    expect(rows.nth(1).locator(".snippet mark")).to_have_text(["Tooth", "toothache"])  # words, any case, stems
    expect(page.get_by_label("Search summaries")).to_have_value("tooth ache")
    context.close()
    assert expected_problems(problems) == []


def test_similar_sessions_below_the_records(indexed, browser):
    context, page, problems = open_page(browser, 1280, 900)
    page.goto(dashboard_url(indexed, make_token(indexed, ["read"], name="similar")))
    search_for(page, "dentist tooth")
    results(page).locator('li[data-summary-id="search-dentist-a"]').get_by_role("link", name="search-dentist-a").click()
    expect(page.locator("#session-heading")).to_have_text("Session search-dentist-a")
    panel = page.get_by_role("region", name="Similar sessions")
    similar = panel.locator("li.result-row")
    expect(similar.first).to_have_attribute("data-summary-id", "search-dentist-b")
    expect(similar.first.locator(".snippet")).to_contain_text("please, the tooth still hurts")
    expect(panel.locator(".search-mode")).to_have_text(WORDS_ONLY)
    expect(panel.locator('li[data-summary-id="search-dentist-a"]')).to_have_count(0)  # not itself
    assert similar.count() <= 5
    # below the trace's records
    assert page.evaluate(
        "document.querySelector('.trace').compareDocumentPosition(document.querySelector('.similar-card'))"
        " & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    shot(page, "23-similar-sessions")

    similar.first.get_by_role("link", name="search-dentist-b").click()
    expect(page.locator("#session-heading")).to_have_text("Session search-dentist-b")
    expect(page.locator(".summary-text")).to_contain_text("please, the tooth still hurts")
    expect(similar.first).to_have_attribute("data-summary-id", "search-dentist-a")

    page.go_back()
    expect(page.locator("#session-heading")).to_have_text("Session search-dentist-a")
    page.locator("#session-view").get_by_role("link", name="← Sessions").click()
    expect(page).to_have_url(re.compile(r"\?q=dentist\+tooth$"))  # the search it was opened from
    expect(results(page).locator('li[data-summary-id="search-dentist-a"] a')).to_be_focused()
    context.close()
    assert expected_problems(problems) == []


def test_a_summary_not_indexed_yet_offers_to_try_again_and_retries_by_itself(indexed, browser):
    context, page, problems = open_page(browser, 1280, 900)
    page.goto(dashboard_url(indexed, make_token(indexed, ["read"], name="not-indexed")))
    not_indexed = {
        "error": "not_indexed_yet",
        "message": "search-hiking is summarized but not in the search index yet; try again in a few seconds",
    }  # what the API answers between SUMMARIZED and the index update
    calls = []

    def first_two_not_indexed(route):
        calls.append(route.request.url)
        if len(calls) <= 2:
            route.fulfill(status=409, content_type="application/json", body=json.dumps(not_indexed))
        else:
            route.continue_()

    page.route("**/summaries/search-hiking/similar*", first_two_not_indexed)
    page.locator('tr[data-summary-id="search-hiking"]').get_by_role("link").click()
    panel = page.get_by_role("region", name="Similar sessions")
    expect(panel.get_by_role("status")).to_have_text(re.compile(r"not in the search index yet.*\(HTTP 409\)"))
    shot(page, "24-similar-not-indexed")
    panel.get_by_role("button", name="Try again").click()  # the second call: still not indexed
    expect(panel.get_by_role("status")).to_have_text(re.compile(r"not in the search index yet"))
    expect(panel.locator("li.result-row").first).to_have_attribute("data-summary-id", "search-journal")  # by itself
    expect(panel.get_by_role("button", name="Try again")).to_be_hidden()
    assert len(calls) == 3 and all("k=5" in url for url in calls)
    context.close()
    assert expected_problems(problems) == []


def test_search_results_fit_a_narrow_screen(indexed, browser):
    context, page, problems = open_page(browser, 390, 844)
    page.goto(dashboard_url(indexed, make_token(indexed, ["read"], name="narrow-search")))
    search_for(page, "Friday dentist appointment")
    expect(results(page).locator("li.result-row")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    shot(page, "25-narrow-search")
    results(page).locator("li.result-row").first.get_by_role("link").click()
    expect(page.get_by_role("region", name="Similar sessions").locator("li.result-row").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    shot(page, "26-narrow-similar")
    context.close()
    assert expected_problems(problems) == []


def test_a_hybrid_answer_says_so_and_shows_both_parts(indexed, browser):
    """No edge worker runs here, so the answer of an online edge is played back in the API's own shape."""
    context, page, problems = open_page(browser, 1280, 900)
    page.goto(dashboard_url(indexed, make_token(indexed, ["read"], name="hybrid")))
    hybrid = {
        "query": {"text": "toothache"},
        "mode": "hybrid",
        "k": 10,
        "semantic": {"used": True, "reason": None, "embedding_version": "embedding-model:0123abcd"},
        "items": [
            {
                "summary_id": "search-dentist-b",
                "source": "planner",
                "day": "2025-03-14",
                "score": 0.826,
                "lexical": 0.0,
                "semantic": 0.71,
                "received_at": None,
                "links": {"summary": "/summaries/search-dentist-b"},
            }
        ],
    }
    page.route(
        "**/search?q=toothache*",
        lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(hybrid)),
    )
    search_for(page, "toothache")
    mode = results(page).locator(".search-mode")
    expect(mode).to_have_text("Ranking: hybrid (embeddings + words) (embedding-model:0123abcd)")
    row = results(page).locator("li.result-row")
    expect(row).to_have_count(1)
    expect(row.locator(".result-score")).to_have_text("score 0.83 words 0.00 · embeddings 0.71")
    expect(row.locator("time")).to_have_text("2025-03-14")  # the day when received_at is unknown
    row.get_by_role("link", name="search-dentist-b").click()
    expect(page.locator("#session-heading")).to_have_text("Session search-dentist-b")
    context.close()
    assert expected_problems(problems) == []


def test_a_word_of_a_script_without_spaces_is_found_and_marked_where_it_is(indexed, browser):
    with api_client(indexed, make_token(indexed, ["ingest"], source="planner", name="cjk")) as client:
        assert (
            client.post("/sessions", json=session_body("search-tanaka", text="明天和田中开会讨论预算")).status_code
            == 202
        )
    with api_client(indexed, make_token(indexed, ["read"], name="cjk-reader")) as reader:
        wait_for(lambda: reader.get("/search", params={"q": "田中"}).json()["items"], timeout=60, interval=0.5)
    context, page, problems = open_page(browser, 1280, 900)
    page.goto(dashboard_url(indexed, make_token(indexed, ["read"], name="cjk-box")))
    search_for(page, "田中")
    rows = results(page).locator("li.result-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-summary-id", "search-tanaka")
    expect(rows.first.locator(".snippet mark")).to_have_text(["田中"])
    context.close()
    assert expected_problems(problems) == []
