"""The pixel in headless Chromium: a republisher's page on a second loopback origin fires it.

The app (with the pixel) runs on 127.0.0.1; the republisher's page is served by another
real HTTP server bound to 127.0.0.2, with the story's snippet pasted in. Chromium maps
the publisher's own domain (``daily.example``) to that server too, for the own-site case.
Uses the system Chromium (never a downloaded browser). Skipped when it is missing, except
in CI where it must be there.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser

from republish.config import Settings
from republish.notify import add_target
from republish.pixel.app import PixelApp
from republish.snippet import render_snippet
from republish.stats.rollup import rollup
from republish.store import publishers as publisher_store
from republish.store import stories as story_store
from republish.store.db import Database
from republish.store.schema import daily_stats, republications
from republish.web.app import create_app
from tests.browser import chromium
from tests.live import serve_app
from tests.servers import LoopbackServer, Response
from tests.test_notify import Receiver

pytestmark = pytest.mark.browser

ARTICLE_PATH = "/news/2026/ferry-vote"
READER_UA_PREFIX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
# The publisher's own domain (from the ``story_id`` fixture), resolved by Chromium alone.
OWN_HOST = "daily.example"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """The system Chromium, headless; ``daily.example`` resolves to 127.0.0.2 in it only."""
    with chromium([f"--host-resolver-rules=MAP {OWN_HOST} 127.0.0.2"]) as launched:
        yield launched


@dataclass
class Setup:
    """The running app and republisher site of one test."""

    base_url: str
    settings: Settings
    db: Database
    log_dir: Path
    story_id: str
    republisher: LoopbackServer

    def page_url(self, path: str = ARTICLE_PATH, host: str = "127.0.0.2") -> str:
        return f"http://{host}:{self.republisher.port}{path}"

    def stats(self) -> dict[str, dict[str, int]]:
        rollup(self.db, self.log_dir)
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(daily_stats)).mappings().all()
        return {
            row["site"]: {k: row[k] for k in ("views", "readers", "bots", "previews")}
            for row in rows
            if row["story_id"] == self.story_id
        }

    def pages(self) -> list[tuple[str, str, int]]:
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(republications)).mappings().all()
        return [(row["site"], row["page_url"], row["views"]) for row in rows]


def _republisher_page(snippet_head: str, snippet_html: str) -> bytes:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>City Paper: Ferry vote</title>{snippet_head}</head>"
        "<body><header>The City Paper</header><main><article>"
        f"{snippet_html}</article></main></body></html>"
    ).encode()


def _setup(settings: Settings, db: Database, story_id: str, tmp_path: Path) -> Iterator[Setup]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    live = settings.replace(base_url=base_url, hit_log_dir=str(tmp_path / "hits"))
    with db.connect() as conn:
        story = story_store.get_story(conn, story_id)
        publisher = publisher_store.get_publisher_by_id(conn, story.publisher_id)
    snippet = render_snippet(story, publisher, base_url)
    assert snippet.republishable, snippet.reason
    page = Response(200, _republisher_page(snippet.head, snippet.html))
    republisher = LoopbackServer("127.0.0.2")
    for path in (ARTICLE_PATH, "/wp-admin/post.php"):
        republisher.route(path, page)
    republisher.start()
    app = create_app(live, database=db, pixel=PixelApp.from_settings(live))
    try:
        with serve_app(app, sock):
            yield Setup(base_url, live, db, tmp_path / "hits", story_id, republisher)
    finally:
        republisher.stop()


@pytest.fixture
def setup(settings: Settings, db: Database, story_id: str, tmp_path: Path) -> Iterator[Setup]:
    """The app on 127.0.0.1 (rollups by the test) and a republisher on 127.0.0.2."""
    yield from _setup(settings.replace(rollup_interval_s=0), db, story_id, tmp_path)


def _visit(browser: Browser, url: str, **options: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """Load ``url`` in a fresh context; the cookies it holds after and pixel responses' headers."""
    # Headless Chromium says "HeadlessChrome", which the bot rules rightly count as a bot:
    # a reader's visit sends the User-Agent of the same Chromium with a screen.
    reader = f"{READER_UA_PREFIX} Chrome/{browser.version} Safari/537.36"
    context = browser.new_context(**{"user_agent": reader, **options})
    seen: list[str] = []
    try:
        page = context.new_page()
        page.on(
            "response",
            lambda r: seen.append(str(r.all_headers())) if "/p/" in r.url else None,
        )
        page.goto(url, wait_until="load")
        assert page.evaluate("document.querySelector('img[src*=\"/p/\"]').complete")
        cookies: list[dict[str, Any]] = [dict(c) for c in context.cookies()]
    finally:
        context.close()
    return cookies, seen


def test_one_reader_on_another_site_is_one_view_with_the_full_page_url(
    browser: Browser, setup: Setup
) -> None:
    cookies, pixel_responses = _visit(browser, setup.page_url(ARTICLE_PATH + "?utm_source=x#top"))
    assert len(pixel_responses) == 1
    assert "set-cookie" not in pixel_responses[0]
    assert cookies == []  # no cookie from our origin (nor any other) on the page
    stats = setup.stats()
    assert stats == {"127.0.0.2": {"views": 1, "readers": 1, "bots": 0, "previews": 0}}
    # The whole page URL came from the Referer: scheme, host, port and path, no query.
    assert setup.pages() == [("127.0.0.2", setup.page_url(), 1)]


def test_a_crawler_is_a_bot_not_a_view(browser: Browser, setup: Setup) -> None:
    _visit(browser, setup.page_url(), user_agent=GOOGLEBOT)
    assert setup.stats() == {"127.0.0.2": {"views": 0, "readers": 0, "bots": 1, "previews": 0}}
    assert setup.pages() == []


def test_cms_preview_is_a_preview(browser: Browser, setup: Setup) -> None:
    _visit(browser, setup.page_url("/wp-admin/post.php?post=12&preview=true"))
    assert setup.stats() == {"127.0.0.2": {"views": 0, "readers": 0, "bots": 0, "previews": 1}}
    assert setup.pages() == []


def test_the_publishers_own_site_is_a_preview(browser: Browser, setup: Setup) -> None:
    _visit(browser, setup.page_url(host=OWN_HOST))
    assert setup.stats() == {OWN_HOST: {"views": 0, "readers": 0, "bots": 0, "previews": 1}}
    assert setup.pages() == []


def test_served_app_rolls_up_and_notifies_by_itself(
    browser: Browser,
    settings: Settings,
    db: Database,
    story_id: str,
    tmp_path: Path,
    http_server: LoopbackServer,
) -> None:
    receiver = Receiver.on(http_server)
    add_target(db, settings, "daily", webhook=receiver.url)
    running = _setup(settings.replace(rollup_interval_s=0.2), db, story_id, tmp_path)
    live = next(running)
    try:
        _visit(browser, live.page_url())
        deadline = time.monotonic() + 20
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        running.close()
    [(_, body)] = receiver.received
    assert b'"site":"127.0.0.2"' in body and live.page_url().encode() in body
    assert live.pages() == [("127.0.0.2", live.page_url(), 1)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_demo_counts_a_view_on_its_sample_republisher_page(
    browser: Browser, cli_env: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = os.environ | cli_env | {"REPUBLISH_ROLLUP_INTERVAL_S": "0.2"}
    command = [sys.executable, "-m", "republish", "demo", "--port", str(port),
               "--database-url", settings.database_url]  # fmt: skip
    process = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    db = Database(settings.database_url)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2).raise_for_status()
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        widget = httpx.get(f"{base}/api/v1/widget", params={
            "publisher": "harbor-ledger", "url": f"{base}/demo/articles/ferry-winter-schedule",
        }, timeout=10).json()  # fmt: skip
        story_id = widget["story_id"]
        _visit(browser, f"{base}/demo/republisher/{story_id}")

        def demo_views() -> int:
            with db.connect() as conn:
                query = sa.select(sa.func.sum(daily_stats.c.views)).where(
                    daily_stats.c.story_id == story_id, daily_stats.c.site == "127.0.0.1"
                )
                return int(conn.execute(query).scalar() or 0)

        # The demo rolls up by itself: wait for the view, without stopping the server.
        deadline = time.monotonic() + 20
        while demo_views() == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert demo_views() == 1
    finally:
        process.terminate()
        process.wait(timeout=15)
        db.dispose()
