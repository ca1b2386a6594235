"""What the widget needs: its JSON (``/api/v1/widget``) and its script and stylesheet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from republish.models import Publisher, Story
from republish.snippet import guidelines_summary, render_snippet
from republish.store import publishers as publisher_store
from republish.store import stories as story_store
from republish.store.errors import NotFound
from republish.urls import InvalidURL
from republish.web._http import BASE_HEADERS, CORS_HEADERS, db_of, fail, json_response, settings_of
from republish.web.serialize import canonical_guide_url, guidelines_url, republish_url

ASSETS_DIR = Path(__file__).resolve().parent.parent / "snippet" / "assets"
ASSET_TYPES = {
    "widget.js": "text/javascript; charset=utf-8",
    "widget.css": "text/css; charset=utf-8",
}
ASSET_CACHE = "public, max-age=300"
WIDGET_CACHE = "public, max-age=60"


def _find(request: Request, publisher: Publisher) -> Story | None:
    url = request.query_params.get("url")
    story_id = request.query_params.get("story")
    if not url and not story_id:
        fail(422, "give url=CANONICAL_URL or story=ID")
    with db_of(request).connect() as conn:
        if story_id:
            try:
                story = story_store.get_story(conn, story_id)
            except NotFound:
                return None
            return story if story.publisher_id == publisher.id else None
        assert publisher.id is not None and url is not None
        try:
            return story_store.find_story(conn, publisher.id, url)
        except InvalidURL as exc:
            fail(422, f"url: {exc}")


def widget_data(request: Request) -> JSONResponse:
    """Everything the widget shows for one story of one publisher."""
    slug = request.query_params.get("publisher")
    if not slug:
        fail(422, "publisher: required (the publisher's slug)")
    with db_of(request).connect() as conn:
        try:
            publisher = publisher_store.get_publisher(conn, slug)
        except NotFound:
            fail(404, f"no publisher with slug {slug!r}")
    base_url = settings_of(request).base_url
    story = _find(request, publisher)
    data: dict[str, Any] = {
        "found": story is not None,
        "story_id": None,
        "republishable": False,
        "show": False,
        "reason": None,
        "html": "",
        "head": "",
        "text": "",
        "headline": "",
        "publisher": {"name": publisher.name, "slug": publisher.slug},
        "guidelines_summary": guidelines_summary(publisher),
        "guidelines_url": guidelines_url(base_url, publisher.slug),
        "canonical_guide_url": canonical_guide_url(base_url, publisher.slug),
        "republish_url": None,
        "contact_email": publisher.contact_email,
    }
    if story is not None:
        snippet = render_snippet(story, publisher, base_url)
        visible = snippet.republishable or publisher.show_reason
        data |= {
            "story_id": story.id,
            "republishable": snippet.republishable,
            "show": visible,
            "reason": snippet.reason if visible else None,
            "html": snippet.html,
            "head": snippet.head,
            "text": snippet.text,
            "headline": story.headline,
            "republish_url": republish_url(base_url, story.id),
        }
    return json_response(data, headers={**CORS_HEADERS, "Cache-Control": WIDGET_CACHE})


def asset(request: Request) -> Response:
    """The widget's script or stylesheet, as the snippet helper wrote it."""
    name = request.url.path.lstrip("/")
    path = ASSETS_DIR / name
    if name not in ASSET_TYPES or not path.is_file():
        return Response(
            "not found", 404, media_type="text/plain; charset=utf-8", headers=BASE_HEADERS
        )
    return Response(
        path.read_bytes(),
        headers={
            **BASE_HEADERS,
            **CORS_HEADERS,
            "Content-Type": ASSET_TYPES[name],
            "Cache-Control": ASSET_CACHE,
        },
    )


def routes() -> list[BaseRoute]:
    """The widget's JSON endpoint and assets."""
    return [
        Route("/api/v1/widget", widget_data, methods=["GET"]),
        Route("/widget.js", asset, methods=["GET"]),
        Route("/widget.css", asset, methods=["GET"]),
    ]
