"""HTML pages: the standalone republish page and the publisher's guidelines.

They work without JavaScript (the widget links here before it upgrades itself) and
carry a Content-Security-Policy that allows no scripts at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from republish.models import Publisher
from republish.snippet import (
    default_canonical_guide_md,
    default_guidelines_md,
    guidelines_summary,
    render_preview,
    render_snippet,
)
from republish.store import publishers as publisher_store
from republish.store import stories as story_store
from republish.store.errors import NotFound
from republish.urls import InvalidURL
from republish.web._http import db_of, settings_of
from republish.web.markdown import render_markdown
from republish.web.serialize import canonical_guide_url, guidelines_url
from republish.web.style import CSS

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

#: No scripts, no plugins, no foreign styles; images only from here (none are used).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render template ``name`` with the page security headers."""
    context.setdefault("publisher", None)
    context.setdefault("canonical", "")
    context.setdefault("noindex", False)
    html = _env.get_template(name).render(**context)
    return HTMLResponse(html, status, headers=PAGE_HEADERS)


def error_page(status: int, heading: str, message: str) -> HTMLResponse:
    """A small HTML error page (404 for unknown stories and publishers)."""
    return page("error.html", status, title=heading, heading=heading, message=message, noindex=True)


def not_found_page() -> HTMLResponse:
    """The 404 page."""
    return error_page(404, "Page not found", "There is nothing at this address.")


def republish_page(request: Request) -> Response:
    """The standalone republish page of one story."""
    story_id = request.path_params["story_id"]
    with db_of(request).connect() as conn:
        try:
            story = story_store.get_story(conn, story_id)
        except NotFound:
            return error_page(404, "Story not found", "There is no story with this address.")
        publisher = publisher_store.get_publisher_by_id(conn, story.publisher_id)
    base_url = settings_of(request).base_url
    snippet = render_snippet(story, publisher, base_url)
    return page(
        "republish.html",
        title=f"Republish: {story.headline}",
        noindex=True,
        canonical=story.canonical_url,
        story=story,
        publisher=publisher,
        snippet=snippet,
        preview=render_preview(story, publisher) if snippet.republishable else "",
        summary=guidelines_summary(publisher),
        guidelines_url=guidelines_url(base_url, publisher.slug),
        canonical_guide_url=canonical_guide_url(base_url, publisher.slug),
    )


def republish_lookup(request: Request) -> Response:
    """``/republish?publisher=SLUG&url=URL``: redirect to the story's republish page."""
    slug = request.query_params.get("publisher", "")
    url = request.query_params.get("url", "")
    if not slug or not url:
        return error_page(
            400, "Missing story", "This link needs a publisher and the story's address."
        )
    with db_of(request).connect() as conn:
        try:
            publisher = publisher_store.get_publisher(conn, slug)
            assert publisher.id is not None
            story = story_store.find_story(conn, publisher.id, url)
        except (NotFound, InvalidURL):
            story = None
    if story is None:
        return error_page(
            404, "Story not found", "This story is not (yet) offered for republication."
        )
    return RedirectResponse(f"/republish/{quote(story.id, safe='')}", status_code=302)


def _publisher(request: Request) -> Publisher | None:
    with db_of(request).connect() as conn:
        try:
            return publisher_store.get_publisher(conn, request.path_params["slug"])
        except NotFound:
            return None


def guidelines_page(request: Request) -> Response:
    """A publisher's republishing guidelines (its own Markdown, or generated ones)."""
    publisher = _publisher(request)
    if publisher is None:
        return error_page(404, "Publisher not found", "There is no publisher at this address.")
    base_url = settings_of(request).base_url
    guide_url = canonical_guide_url(base_url, publisher.slug)
    text = publisher.guidelines_md.strip() or default_guidelines_md(publisher, guide_url)
    return page(
        "guidelines.html",
        title=f"Republishing guidelines: {publisher.name}",
        heading=f"Republishing guidelines: {publisher.name}",
        publisher=publisher,
        body=render_markdown(text),
        other_url=guide_url,
        other_label="How to add the canonical link to your page",
    )


def canonical_guide_page(request: Request) -> Response:
    """How to add the canonical link, in the publisher's words or the default guide."""
    publisher = _publisher(request)
    if publisher is None:
        return error_page(404, "Publisher not found", "There is no publisher at this address.")
    text = publisher.canonical_guide_md.strip() or default_canonical_guide_md(publisher)
    return page(
        "guidelines.html",
        title=f"Adding the canonical link: {publisher.name}",
        heading="Adding the canonical link",
        publisher=publisher,
        body=render_markdown(text),
        other_url=guidelines_url(settings_of(request).base_url, publisher.slug),
        other_label=f"Back to {publisher.name}'s republishing guidelines",
    )


def css_response(css: str) -> Response:
    """A stylesheet answer, cacheable for an hour."""
    return Response(
        css,
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def stylesheet(request: Request) -> Response:
    """The pages' stylesheet."""
    return css_response(CSS)


def routes() -> list[BaseRoute]:
    """The HTML page routes."""
    return [
        Route("/republish", republish_lookup, methods=["GET"]),
        Route("/republish/{story_id}", republish_page, methods=["GET"]),
        Route("/guidelines/{slug}", guidelines_page, methods=["GET"]),
        Route("/guidelines/{slug}/canonical", canonical_guide_page, methods=["GET"]),
        Route("/static/republish.css", stylesheet, methods=["GET"]),
    ]
