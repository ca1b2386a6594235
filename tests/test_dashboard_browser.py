"""The dashboard in headless Chromium: log in, overview, a story, a site, a CSV download.

Uses the system Chromium (never a downloaded browser). Skipped when it is missing,
except in CI where it must be there. axe-core checks the login page and the overview.
"""

from __future__ import annotations

import csv
import io
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from republish.config import Settings
from republish.store.db import Database
from republish.web.app import create_app
from tests.browser import chromium, serious_violations
from tests.live import serve_app
from tests.test_stats_api import PASSWORD, Seeded, seed

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """The system Chromium, headless, started once for this module."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def live(settings: Settings, db: Database, tmp_path: Path) -> Iterator[tuple[str, Seeded]]:
    """The app with seeded statistics and users, served on a free loopback port."""
    seeded = seed(db, tmp_path)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(settings.replace(base_url=base_url), database=db)
    with serve_app(app, sock):
        yield base_url, seeded


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page in its own context; downloads allowed."""
    context = browser.new_context(accept_downloads=True)
    yield context.new_page()
    context.close()


def test_log_in_browse_and_download(page: Page, live: tuple[str, Seeded]) -> None:
    base_url, seeded = live
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error"
            else None)  # fmt: skip
    axe = Axe()

    page.goto(base_url + "/dashboard/daily")
    expect(page).to_have_url(base_url + "/login?next=/dashboard/daily")
    assert serious_violations(axe.run(page)) == []
    page.get_by_label("E-mail address").fill("editor@daily.example")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong e-mail address or password.")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(base_url + "/dashboard/daily")
    expect(page.get_by_role("heading", level=1)).to_have_text("The Daily Lantern")
    chart = page.get_by_role("img", name="Views per day, last 30 days")
    expect(chart).to_be_visible()
    assert chart.locator("rect").count() == 30
    expect(page.locator(".totals dd").first).to_have_text("12")
    assert serious_violations(axe.run(page)) == []

    page.get_by_role("link", name="7 days").click()
    expect(page).to_have_url(base_url + "/dashboard/daily?days=7")
    expect(page.get_by_role("link", name="7 days")).to_have_attribute("aria-current", "page")

    page.get_by_role("link", name="Ferry returns to Gull Island").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ferry returns to Gull Island")
    expect(page.get_by_role("link", name="https://paper-one.example/news/ferry")).to_be_visible()
    page.get_by_role("link", name="paper-one.example", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("paper-one.example")
    expect(page.get_by_role("cell", name="Ferry returns to Gull Island")).to_be_visible()

    with page.expect_download() as info:
        page.get_by_role("link", name="Download stories as CSV").click()
    download = info.value
    assert download.suggested_filename.startswith("daily-site-paper-one.example-")
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert rows == [
        ["story_id", "headline", "views", "readers"],
        [seeded.story_a, "Ferry returns to Gull Island", "9", "9"],
    ]

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(base_url + "/login")
    page.goto(base_url + "/dashboard/daily")
    expect(page).to_have_url(base_url + "/login?next=/dashboard/daily")
    # No CSP violation or script error; failed loads (the 401 of the wrong password, a
    # favicon) are expected and reported as "Failed to load resource".
    assert [error for error in errors if not error.startswith("Failed to load resource")] == []
