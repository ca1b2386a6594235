"""The republish, guidelines and error pages in headless Chromium: axe finds nothing serious."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser

from republish.config import Settings
from tests.browser import chromium, serious_violations
from tests.live import LiveDemo, serve_demo

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """The system Chromium, headless, started once for this module."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveDemo]:
    with serve_demo(settings) as running:
        yield running


def test_pages_have_no_serious_accessibility_violations(browser: Browser, live: LiveDemo) -> None:
    slug = live.site.publisher.slug
    stories = live.site.stories
    offered = [key for key, decision in live.site.decisions.items() if decision.republishable]
    refused = [key for key, decision in live.site.decisions.items() if not decision.republishable]
    assert offered and refused
    paths = [
        f"/republish/{stories[offered[0]].id}",
        f"/republish/{stories[refused[0]].id}",
        f"/guidelines/{slug}",
        f"/guidelines/{slug}/canonical",
        "/republish/nosuchstory",
    ]
    axe = Axe()
    context = browser.new_context()
    page = context.new_page()
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text))
    try:
        for path in paths:
            page.goto(live.url(path))
            # The stylesheet is loaded (contrast is checked on the styled page).
            page.wait_for_function("getComputedStyle(document.body).margin === '0px'")
            found = serious_violations(axe.run(page))
            assert found == [], f"{path}: {found}"
            assert page.locator("h1").count() == 1, path
            assert page.locator("main").count() == 1, path
    finally:
        context.close()
    # The Content-Security-Policy blocks nothing these pages need.
    assert not [text for text in blocked if "Content Security Policy" in text], blocked
