"""The demo's own pages: an index, the sample articles with the widget, a republisher page.

They are extra routes for :func:`republish.web.app.create_app`; everything else (widget,
API, standalone republish and guidelines pages) is the real app.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from republish.demo.seed import ARTICLES, DATA_DIR, DEMO_SLUG, article_page, article_url
from republish.models import Publisher, Story
from republish.policy import decide
from republish.snippet import render_snippet
from republish.store import publishers as publisher_store
from republish.store import stories as story_store
from republish.store.db import Database
from republish.store.errors import NotFound

#: Where the stored pages keep room for the "Republish This Story" box.
BOX_MARKER = "<!-- republish-box -->"

_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(DATA_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def republish_box(base_url: str, canonical_url: str, publisher_slug: str = DEMO_SLUG) -> str:
    """The box a newsroom puts in its article template: the no-JS link and the one tag."""
    base = base_url.rstrip("/")
    nojs = f"{base}/republish?" + urlencode({"publisher": publisher_slug, "url": canonical_url})
    return (
        '<aside class="republish-box" aria-labelledby="republish-box-title">\n'
        '  <h2 id="republish-box-title">Republish This Story</h2>\n'
        "  <p>Most Harbor Ledger stories may be republished for free, with credit, under "
        "our guidelines.</p>\n"
        f'  <a data-republish href="{escape(nojs)}">Republish This Story</a>\n'
        f'  <script src="{escape(base)}/widget.js" data-publisher="{escape(publisher_slug)}" '
        "async></script>\n"
        "</aside>"
    )


def _page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status, headers=_HEADERS)


def _not_found(what: str) -> HTMLResponse:
    return _page(
        f"<!doctype html><html lang=en><title>Not found</title><h1>Not found</h1>"
        f"<p>{escape(what)}</p><p><a href=/>Back to the demo</a></p></html>",
        404,
    )


def demo_routes(db: Database, base_url: str) -> list[BaseRoute]:
    """Routes of the demo pages, reading ``db`` and linking to ``base_url``."""
    base = base_url.rstrip("/")

    def publisher_and_stories() -> tuple[Publisher, list[Story]]:
        with db.connect() as conn:
            publisher = publisher_store.get_publisher(conn, DEMO_SLUG)
            assert publisher.id is not None
            stories = story_store.list_stories(conn, publisher.id, limit=len(ARTICLES) * 4)
        return publisher, stories

    def index(request: Request) -> Response:
        """The demo's front page: every sample and where to try it."""
        try:
            publisher, stories = publisher_and_stories()
        except NotFound:
            return _not_found("The demo database has no demo publisher: run `republish demo`.")
        by_url = {story.canonical_url: story for story in stories}
        rows = []
        for slug in ARTICLES:
            story = by_url.get(article_url(base, slug))
            if story is None:
                continue
            query = urlencode({"publisher": publisher.slug, "url": story.canonical_url})
            rows.append(
                {
                    "story": story,
                    "decision": decide(story, publisher),
                    "article_url": story.canonical_url,
                    "republish_url": f"{base}/republish/{story.id}",
                    "republisher_url": f"{base}/demo/republisher/{story.id}",
                    "api_url": f"{base}/api/v1/widget?{query}",
                }
            )
        html = _templates.get_template("demo-index.html.j2").render(
            publisher=publisher,
            rows=rows,
            base_url=base,
            guidelines_url=f"{base}/guidelines/{publisher.slug}",
            canonical_guide_url=f"{base}/guidelines/{publisher.slug}/canonical",
        )
        return _page(html)

    def article(request: Request) -> Response:
        """A sample article page as the newsroom serves it, with the widget in place."""
        slug = request.path_params["slug"]
        if slug not in ARTICLES:
            return _not_found(f"There is no sample article {slug!r}.")
        page = article_page(slug, base)
        box = republish_box(base, article_url(base, slug))
        return _page(page.replace(BOX_MARKER, box, 1))

    def republisher(request: Request) -> Response:
        """Another site's page with the story's snippet pasted in, as a republisher would."""
        story_id = request.path_params["story_id"]
        with db.connect() as conn:
            try:
                story = story_store.get_story(conn, story_id)
                publisher = publisher_store.get_publisher_by_id(conn, story.publisher_id)
            except NotFound:
                return _not_found(f"There is no story {story_id!r}.")
        snippet = render_snippet(story, publisher, base)
        if not snippet.republishable:
            return _not_found(f"This story is not offered for republication. {snippet.reason}")
        html = _templates.get_template("demo-republisher.html.j2").render(
            story=story, publisher=publisher, html=snippet.html, head=snippet.head, base_url=base
        )
        return _page(html)

    return [
        Route("/", index, methods=["GET"]),
        Route("/demo/articles/{slug}", article, methods=["GET"]),
        Route("/demo/republisher/{story_id}", republisher, methods=["GET"]),
    ]
