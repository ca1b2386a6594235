"""The widget in headless Chromium against the real app and demo pages on loopback.

Uses the system Chromium (never a downloaded browser). Skipped when it is missing,
except in CI where it must be there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect

from republish.config import Settings
from republish.publishers import edit_publisher
from tests.browser import chromium, serious_violations
from tests.live import LiveDemo, serve_demo
from tests.servers import LoopbackServer, Response

pytestmark = pytest.mark.browser

OFFERED = "ferry-winter-schedule"
WIRE = "reservoir-levels-wire"
OPINION = "waterfront-for-everyone"

READ_CLIPBOARD = """async () => {
  const items = await navigator.clipboard.read({unsanitized: ["text/html"]});
  const out = {};
  for (const item of items) {
    for (const type of item.types) {
      out[type] = await (await item.getType(type)).text();
    }
  }
  return out;
}"""
# Chromium wraps HTML it puts on the clipboard in <html><body>: compare the parsed markup.
SAME_MARKUP = """([left, right]) => {
  const markup = (html) => {
    const doc = new DOMParser().parseFromString(html, "text/html");
    return (doc.head.innerHTML + doc.body.innerHTML).trim();
  };
  return markup(left) !== "" && markup(left) === markup(right);
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """The system Chromium, headless, started once for this module."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveDemo]:
    """The demo seeded into this test's database and served on a free loopback port."""
    with serve_demo(settings) as running:
        yield running


def _context(browser: Browser, live: LiveDemo, **options: Any) -> BrowserContext:
    context = browser.new_context(**options)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.base_url)
    return context


@pytest.fixture
def page(browser: Browser, live: LiveDemo) -> Iterator[Page]:
    """A fresh page in its own context (no shared cache), clipboard allowed."""
    context = _context(browser, live)
    yield context.new_page()
    context.close()


def _api(live: LiveDemo, path: str, **params: str) -> dict[str, Any]:
    response = httpx.get(live.url(path), params=params, timeout=10)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def test_button_opens_dialog_and_copies_every_section(page: Page, live: LiveDemo) -> None:
    story = live.site.stories[OFFERED]
    snippet = _api(live, f"/api/v1/stories/{story.id}/snippet")
    widget = _api(live, "/api/v1/widget", publisher=live.site.publisher.slug, story=story.id)
    assert snippet["republishable"] is True

    page.goto(live.site.article_url(OFFERED))
    page.evaluate("navigator.clipboard.writeText('nothing copied yet')")
    button = page.locator("button.rp-button")
    expect(button).to_have_text("Republish This Story")
    # The no-JS link was upgraded in place, not duplicated.
    expect(page.locator("a[data-republish]")).to_have_count(0)
    expect(page.locator(".republish-box button.rp-button")).to_have_count(1)

    button.click()
    dialog = page.locator("dialog.rp-dialog[open]")
    expect(dialog).to_be_visible()
    assert page.evaluate("document.querySelector('dialog[open]').contains(document.activeElement)")
    expect(dialog.locator(".rp-summary")).to_have_text(widget["guidelines_summary"])
    expect(dialog.get_by_role("link", name="Read the full guidelines")).to_have_attribute(
        "href", widget["guidelines_url"]
    )
    expect(dialog.get_by_role("link", name="How to keep the canonical link")).to_have_attribute(
        "href", widget["canonical_guide_url"]
    )
    email = live.site.publisher.contact_email
    expect(dialog.get_by_role("link", name=email)).to_have_attribute("href", f"mailto:{email}")

    for key, name in (("html", "HTML"), ("head", "head tag"), ("text", "plain text")):
        section = dialog.locator(f'[data-rp-section="{key}"]')
        expect(section.locator("textarea")).to_have_value(snippet[key])
        section.get_by_role("button", name=f"Copy {name}").click()
        expect(dialog.get_by_role("status")).to_have_text(f"Copied the {name}.")
        clipboard = page.evaluate(READ_CLIPBOARD)
        # A code box gets the markup itself; a rich editor gets HTML to render.
        assert clipboard["text/plain"] == snippet[key]
        if key == "text":
            assert "<p>" in clipboard["text/html"]
            assert story.headline in clipboard["text/html"]
        else:
            assert page.evaluate(SAME_MARKUP, [clipboard["text/html"], snippet[key]])

    page.keyboard.press("Escape")
    expect(page.locator("dialog[open]")).to_have_count(0)
    assert page.evaluate("document.activeElement.classList.contains('rp-button')")

    # The close button closes it too, and focus again goes back to the button.
    button.click()
    dialog.get_by_role("button", name="Close").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    assert page.evaluate("document.activeElement.classList.contains('rp-button')")


@pytest.mark.parametrize("slug", [WIRE, OPINION], ids=["wire", "excluded-section"])
def test_story_not_offered_shows_its_reason(page: Page, live: LiveDemo, slug: str) -> None:
    decision = live.site.decisions[slug]
    assert decision.republishable is False
    page.goto(live.site.article_url(slug))
    notice = page.locator(".rp-notice")
    expect(notice).to_have_text(f"Republishing: {decision.reason}")
    expect(page.locator("button.rp-button")).to_have_count(0)
    expect(page.locator("a[data-republish]")).to_have_count(0)


def test_wire_story_shows_nothing_when_reasons_are_hidden(page: Page, live: LiveDemo) -> None:
    edit_publisher(live.db, live.site.publisher.slug, {"show_reason": False})
    with page.expect_response(lambda response: "/api/v1/widget" in response.url) as answer:
        page.goto(live.site.article_url(WIRE))
    assert answer.value.json()["show"] is False
    expect(page.locator("a[data-republish]")).to_be_hidden()
    expect(page.locator(".rp-widget")).to_have_count(0)
    expect(page.locator(".republish-box")).to_contain_text("Republish This Story")


def test_without_javascript_the_link_opens_the_standalone_page(
    browser: Browser, live: LiveDemo
) -> None:
    story = live.site.stories[OFFERED]
    snippet = _api(live, f"/api/v1/stories/{story.id}/snippet")
    context = _context(browser, live, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live.site.article_url(OFFERED))
        expect(page.locator("button.rp-button")).to_have_count(0)
        page.get_by_role("link", name="Republish This Story").click()
        page.wait_for_url(live.url(f"/republish/{story.id}"))
        values = page.locator("textarea").evaluate_all("areas => areas.map(a => a.value)")
        assert snippet["html"] in values
        assert snippet["head"] in values
    finally:
        context.close()


def test_no_serious_accessibility_violations(page: Page, live: LiveDemo) -> None:
    axe = Axe()
    page.goto(live.site.article_url(OFFERED))
    page.locator("button.rp-button").click()
    expect(page.locator("dialog[open]")).to_be_visible()
    # Wait for the stylesheet, so contrast is checked on the styled widget.
    page.wait_for_function(
        "getComputedStyle(document.querySelector('.rp-button')).backgroundColor"
        " !== 'rgba(0, 0, 0, 0)'"
    )
    found = serious_violations(axe.run(page))
    assert found == [], f"article page with the dialog open: {found}"

    page.goto(live.url(f"/republish/{live.site.stories[OFFERED].id}"))
    found = serious_violations(axe.run(page))
    assert found == [], f"standalone republish page: {found}"

    page.goto(live.site.article_url(WIRE))
    expect(page.locator(".rp-notice")).to_be_visible()
    found = serious_violations(axe.run(page))
    assert found == [], f"article page with the notice: {found}"

    page.goto(live.url("/"))
    found = serious_violations(axe.run(page))
    assert found == [], f"demo index: {found}"


def test_widget_requests_only_its_own_origin(page: Page, live: LiveDemo) -> None:
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.goto(live.site.article_url(OFFERED))
    page.locator("button.rp-button").click()
    page.locator('[data-rp-section="html"] button').click()
    expect(page.get_by_role("status")).to_have_text("Copied the HTML.")
    own = urlsplit(live.base_url).netloc
    web = [url for url in urls if urlsplit(url).scheme in {"http", "https"}]
    assert any("/api/v1/widget" in url for url in web)
    assert any(url.endswith("/widget.css") for url in web)
    assert [url for url in web if urlsplit(url).netloc != own] == []


def _host_page(server: LoopbackServer, body: str, head: str = "") -> str:
    """Serve ``body`` as a page of another site: another origin (port) on loopback."""
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host</title>{head}'
        "<script>window.__before = Object.keys(window);</script>"
        f"</head><body><main>{body}</main></body></html>"
    )
    headers = {"Content-Type": "text/html; charset=utf-8"}
    return server.route("/news/story", Response(200, html.encode(), headers))


def test_on_another_site_by_story_id_right_after_the_script(
    page: Page, live: LiveDemo, http_server: LoopbackServer
) -> None:
    story = live.site.stories["oyster-cooperative"]
    url = _host_page(
        http_server,
        "<p>Before</p>"
        f'<script src="{live.base_url}/widget.js" data-publisher="{live.site.publisher.slug}" '
        f'data-story="{story.id}" async></script><p id="after">After</p>',
    )
    with page.expect_request(lambda request: "/api/v1/widget" in request.url) as api_request:
        page.goto(url)
    assert f"story={story.id}" in api_request.value.url
    button = page.locator("button.rp-button")
    expect(button).to_be_visible()
    # Inserted right after its script tag, before the next paragraph.
    assert page.evaluate(
        "document.querySelector('script[data-publisher]').nextElementSibling"
        ".classList.contains('rp-widget')"
    )
    button.click()
    expect(page.locator("dialog[open] .rp-headline")).to_have_text(story.headline)
    # No globals, cookies or storage left behind.
    added = page.evaluate(
        "Object.keys(window).filter(k => k !== '__before' && !window.__before.includes(k))"
    )
    assert added == []
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0


def test_data_target_and_canonical_link(
    page: Page, live: LiveDemo, http_server: LoopbackServer
) -> None:
    story = live.site.stories["school-water-lead"]
    url = _host_page(
        http_server,
        '<div id="slot"></div><p>Story text</p>'
        f'<script src="{live.base_url}/widget.js" data-publisher="{live.site.publisher.slug}" '
        'data-target="#slot" async></script>',
        head=f'<link rel="canonical" href="{story.canonical_url}">',
    )
    page.goto(url)
    expect(page.locator("#slot button.rp-button")).to_have_count(1)
    expect(page.locator("button.rp-button")).to_have_count(1)


def test_unknown_story_renders_nothing(
    page: Page, live: LiveDemo, http_server: LoopbackServer
) -> None:
    url = _host_page(
        http_server,
        "<p>Not a stored story</p>"
        f'<script src="{live.base_url}/widget.js" data-publisher="{live.site.publisher.slug}" '
        "async></script>"
        f'<a data-republish href="{live.base_url}/republish?publisher=x&amp;url=y">Republish</a>',
    )
    with page.expect_response(lambda response: "/api/v1/widget" in response.url) as answer:
        page.goto(url)
    assert answer.value.json()["found"] is False
    expect(page.locator("a[data-republish]")).to_be_hidden()
    expect(page.locator(".rp-widget")).to_have_count(0)
    expect(page.locator("main p")).to_have_text("Not a stored story")


def test_service_error_leaves_the_no_js_link_working(page: Page, live: LiveDemo) -> None:
    page.route(
        "**/api/v1/widget*",
        lambda route: route.fulfill(status=503, content_type="application/json", body="{}"),
    )
    with page.expect_response(lambda response: "/api/v1/widget" in response.url):
        page.goto(live.site.article_url(OFFERED))
    link = page.locator("a[data-republish]")
    expect(link).to_be_visible()
    expect(page.locator(".rp-widget")).to_have_count(0)


# Older browsers: no ClipboardItem (writeText only), or no async clipboard at all
# (select the text box and execCommand("copy")).
@pytest.mark.parametrize(
    ("remove", "flavours"),
    [
        ("delete window.ClipboardItem;", {"text/plain"}),
        (
            "Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined});",
            None,
        ),
    ],
    ids=["write-text", "exec-command"],
)
def test_copy_falls_back_on_older_clipboard_apis(
    browser: Browser, live: LiveDemo, remove: str, flavours: set[str] | None
) -> None:
    story = live.site.stories[OFFERED]
    snippet = _api(live, f"/api/v1/stories/{story.id}/snippet")
    context = _context(browser, live)
    try:
        # A page that keeps the clipboard API empties the clipboard, then reads it back.
        reader = context.new_page()
        reader.goto(live.url("/healthz"))
        reader.evaluate("navigator.clipboard.writeText('nothing copied yet')")
        page = context.new_page()
        page.add_init_script(remove)
        page.goto(live.site.article_url(OFFERED))
        page.locator("button.rp-button").click()
        page.locator('[data-rp-section="html"] button').click()
        expect(page.get_by_role("status")).to_have_text("Copied the HTML.")
        clipboard = reader.evaluate(READ_CLIPBOARD)
        assert clipboard["text/plain"] == snippet["html"]
        if flavours is not None:
            assert set(clipboard) == flavours
    finally:
        context.close()
