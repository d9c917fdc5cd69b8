"""Helpers for the dashboard's browser tests: Debian's Chromium, driven by Playwright (it downloads no browser)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"


def open_page(browser, width: int, height: int, **context_options):
    """A new context (its own storage) and page; `context_options` go to Browser.new_context (locale, timezone_id)."""
    context = browser.new_context(viewport={"width": width, "height": height}, **context_options)
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if _problem(msg) else None)
    return context, page, problems


def _problem(message) -> bool:
    """A console error, except Chromium's line for a similar-sessions call answered 409 not_indexed_yet: the API's
    designed "not in the search index yet" answer, which the panel asks again after (dashboard/similar.js)."""
    not_indexed_yet = "status of 409" in message.text and "/similar" in message.location.get("url", "")
    return message.type == "error" and not not_indexed_yet


def dashboard_url(stack, token: str) -> str:
    return f"{stack.api_url}/#token={token}&ws={stack.websocket_api.url}"


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
