"""Feeds, WordPress API answers and sitemaps for the source tests, served on loopback.

``make_feed(n)`` builds an RSS 2.0 feed of ``n`` full-content stories (the 1,000-entry
ingest test uses it); the recorded documents live in ``tests/data/sources/``. All text
here is written for the project.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from republish.config import Settings
from republish.net import Client
from tests.servers import LoopbackServer, Response

DATA = Path(__file__).parent / "data" / "sources"
XML = {"Content-Type": "application/xml; charset=utf-8"}
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
JSON = {"Content-Type": "application/json; charset=UTF-8"}
START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

_TOWNS = ("Alder Creek", "Birchford", "Cold Spring", "Dunmore", "Elm Hollow", "Fairhaven")
_TOPICS = (
    ("council", "The town council met on Tuesday night to take up the {thing}."),
    ("schools", "Parents filled the school gym on Wednesday to hear about the {thing}."),
    ("roads", "Road crews began work on Monday morning on the {thing}."),
    ("health", "The county health office announced changes to the {thing} this week."),
)
_THINGS = ("budget", "new library", "water main", "bus schedule", "park plan", "clinic hours")


def loopback_client(**overrides: Any) -> Client:
    """A guarded client that may reach 127.0.0.0/8 (the test servers), 5 s per fetch."""
    settings = Settings(fetch_allow=("127.0.0.0/8",), fetch_timeout_s=5.0)
    return Client(settings.replace(**overrides) if overrides else settings)


@contextmanager
def serving() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def story_paragraphs(i: int, *, revision: int = 0) -> list[str]:
    """Four paragraphs of plain story text, different for every ``i`` (and revision)."""
    town = _TOWNS[i % len(_TOWNS)]
    topic, opening = _TOPICS[i % len(_TOPICS)]
    thing = _THINGS[(i // len(_TOPICS)) % len(_THINGS)]
    paragraphs = [
        f"{town}: {opening.format(thing=thing)} Story number {i} in this feed.",
        f"Residents of {town} asked how the {thing} would affect their {topic} costs, and "
        f"officials promised written answers before the next meeting in {1 + i % 28} days.",
        f"A resident who has lived in {town} for {10 + i % 40} years said she wanted the "
        f"{thing} settled before winter. Others asked for a public vote.",
        f"The next meeting on the {thing} is open to everyone. Minutes of this one will be "
        f"posted on the town website within a week.",
    ]
    if revision:
        paragraphs.append(f"Update {revision}: officials corrected the meeting date.")
    return paragraphs


def make_feed(
    n: int,
    *,
    site: str = "https://feedtown.example",
    full: bool = True,
    start: datetime = START,
    changed: Collection[int] = (),
    revision: int = 1,
) -> bytes:
    """An RSS 2.0 feed of ``n`` stories, newest first, one hour apart from ``start``.

    Story ``i`` lives at ``{site}/news/story-{i}``, has a headline, a byline, a category,
    a tag and (with ``full``) four paragraphs of ``content:encoded`` (about 600 characters,
    over the full-content threshold); without ``full`` only a one-line description. Entries
    whose index is in ``changed`` carry an extra "Update {revision}" paragraph and a newer
    date (for update tests); everything else is identical from one call to the next.
    """
    items = []
    for i in range(n):
        published = start - timedelta(hours=i)
        is_changed = i in changed
        date = published + timedelta(minutes=30) if is_changed else published
        body = "".join(
            f"<p>{escape(p)}</p>"
            for p in story_paragraphs(i, revision=revision if is_changed else 0)
        )
        town = _TOWNS[i % len(_TOWNS)]
        topic = _TOPICS[i % len(_TOPICS)][0]
        content = f"<content:encoded><![CDATA[{body}]]></content:encoded>" if full else ""
        items.append(
            f"<item><title>{escape(town)} weighs its options, story {i}</title>"
            f"<link>{site}/news/story-{i}</link>"
            f'<guid isPermaLink="false">feedtown-{i}</guid>'
            f"<dc:creator>Reporter {i % 7} Lastname</dc:creator>"
            f"<pubDate>{format_datetime(date, usegmt=True)}</pubDate>"
            f"<category>{topic.title()}</category><category>{escape(town)}</category>"
            f"<description>{escape(town)} news in brief, story {i}.</description>"
            f"{content}</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>Feedtown News</title><link>{site}/</link>"
        "<description>Generated test feed</description>" + "".join(items) + "</channel></rss>"
    ).encode()


def sitemap_file(name: str, base: str) -> bytes:
    """A recorded sitemap from ``tests/data/sources/sitemaps`` with ``{base}`` filled in."""
    text = (DATA / "sitemaps" / name).read_text(encoding="utf-8")
    return text.replace("{base}", base).encode()


def wordpress_pages(
    pages: list[bytes], *, total_header: bool = True
) -> Any:  # a LoopbackServer handler
    """A handler answering ``?page=N`` with ``pages[N-1]`` (and WordPress's paging headers);
    past the last page, WordPress's 400 ``rest_post_invalid_page_number``."""

    def handler(request: BaseHTTPRequestHandler) -> Response:
        query = parse_qs(urlsplit(request.path).query)
        page = int(query.get("page", ["1"])[0])
        if page > len(pages):
            error = {
                "code": "rest_post_invalid_page_number",
                "message": "The page number requested is larger than the number of pages.",
                "data": {"status": 400},
            }
            return Response(400, json.dumps(error).encode(), JSON)
        headers = dict(JSON)
        if total_header:
            total = sum(len(json.loads(body)) for body in pages)
            headers["X-WP-Total"] = str(total)
            headers["X-WP-TotalPages"] = str(len(pages))
        return Response(200, pages[page - 1], headers)

    return handler


def recorded(name: str) -> bytes:
    """A recorded document from ``tests/data/sources``."""
    return (DATA / name).read_bytes()


def make_posts(n: int, *, site: str = "https://wp.example", paragraphs: int = 1) -> list[Any]:
    """``n`` WordPress posts as the REST API returns them (``_embed``ded), newest first;
    each story's four paragraphs repeated ``paragraphs`` times."""
    posts = []
    for i in range(n):
        when = (START - timedelta(hours=i)).replace(tzinfo=None).isoformat()
        body = "".join(f"<p>{escape(p)}</p>\n" for p in story_paragraphs(i) * paragraphs)
        posts.append(
            {
                "id": 1000 - i,
                "date_gmt": when,
                "modified_gmt": when,
                "status": "publish",
                "link": f"{site}/{i}/story-{i}/",
                "title": {"rendered": f"Story {i} &#8211; from the test site"},
                "content": {"rendered": body, "protected": False},
                "excerpt": {"rendered": "", "protected": False},
                "_embedded": {"author": [{"id": 1, "name": f"Writer {i % 3}"}]},
            }
        )
    return posts


def wordpress_site(posts: list[Any]) -> Any:  # a LoopbackServer handler
    """A handler serving ``posts`` as WordPress does: ``per_page`` and ``page`` honoured,
    ``X-WP-Total`` / ``X-WP-TotalPages`` sent, 400 past the last page."""

    def handler(request: BaseHTTPRequestHandler) -> Response:
        query = parse_qs(urlsplit(request.path).query)
        per_page = int(query.get("per_page", ["10"])[0])
        page = int(query.get("page", ["1"])[0])
        pages = max(1, -(-len(posts) // per_page))
        if page > pages:
            return Response(400, b'{"code": "rest_post_invalid_page_number"}', JSON)
        chunk = posts[(page - 1) * per_page : page * per_page]
        headers = {**JSON, "X-WP-Total": str(len(posts)), "X-WP-TotalPages": str(pages)}
        return Response(200, json.dumps(chunk).encode(), headers)

    return handler
