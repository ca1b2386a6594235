"""The republish, guidelines and error pages in headless Chromium: axe finds nothing serious."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, sync_playwright

from republish.config import Settings
from tests.live import LiveDemo, serve_demo

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (install Debian's chromium package)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveDemo]:
    with serve_demo(settings) as running:
        yield running


def _serious(results: Any) -> list[str]:
    return [
        f"{violation['id']} ({violation['impact']})"
        for violation in results.response["violations"]
        if violation["impact"] in {"serious", "critical"}
    ]


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
            found = _serious(axe.run(page))
            assert found == [], f"{path}: {found}"
            assert page.locator("h1").count() == 1, path
            assert page.locator("main").count() == 1, path
    finally:
        context.close()
    # The Content-Security-Policy blocks nothing these pages need.
    assert not [text for text in blocked if "Content Security Policy" in text], blocked
