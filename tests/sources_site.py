"""A newsroom site on a loopback server for polling tests: story pages, an RSS feed, a
WordPress posts endpoint and a sitemap, all written here (no third-party text)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from http.server import BaseHTTPRequestHandler

from tests.servers import LoopbackServer, Response

HTML = {"Content-Type": "text/html; charset=utf-8"}
BASE_DATE = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)

_PLACES = ("the harbour", "the east ridge", "the old mill", "the ferry landing", "the library")
_TOPICS = ("budget", "flood defences", "bus routes", "school meals", "water rates")


def paragraphs(n: int, *, seed: int = 0) -> list[str]:
    """Plain, distinct paragraphs of story text (long enough for extraction)."""
    out = []
    for i in range(4):
        place = _PLACES[(n + i + seed) % len(_PLACES)]
        topic = _TOPICS[(n * 3 + i) % len(_TOPICS)]
        out.append(
            f"Story {n}, paragraph {i + 1}: residents near {place} met on Tuesday evening to "
            f"discuss the {topic}, which the council will vote on next month. Several of them "
            f"said the plan had changed {n + i} times since spring and asked for clearer "
            "figures before any decision is taken by the committee."
        )
    return out


@dataclass
class Story:
    """One story of the site."""

    n: int
    title: str
    body: list[str]
    modified: datetime
    status: str = "publish"  # WordPress status
    page_status: int = 200  # what its page answers

    @property
    def path(self) -> str:
        return f"/news/story-{self.n}"

    def body_html(self) -> str:
        return "".join(f"<p>{escape(p)}</p>" for p in self.body)


def make_story(n: int) -> Story:
    return Story(
        n=n,
        title=f"Council weighs plan number {n}",
        body=paragraphs(n),
        modified=BASE_DATE + timedelta(hours=n),
    )


@dataclass
class Site:
    """The stories of one newsroom, served by ``server``; routes answer the current state."""

    server: LoopbackServer
    stories: dict[int, Story] = field(default_factory=dict)
    feed_full: bool = True  # feed entries carry the whole story
    feed_etag: str = '"v1"'

    def add(self, count: int, start: int = 1) -> None:
        for n in range(start, start + count):
            self.stories[n] = make_story(n)

    def url(self, path: str) -> str:
        return self.server.url(path)

    # -- pages -------------------------------------------------------------------------

    def page(self, story: Story) -> bytes:
        url = self.url(story.path)
        return (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>{escape(story.title)} | The Test Daily</title>"
            f'<link rel="canonical" href="{url}">'
            f'<meta property="article:modified_time" content="{story.modified.isoformat()}">'
            "</head><body><header><nav><a href=/>Home</a></nav></header><main><article>"
            f"<h1>{escape(story.title)}</h1>{story.body_html()}</article></main>"
            "<footer>The Test Daily</footer></body></html>"
        ).encode()

    def _page_handler(self, n: int) -> Response:
        story = self.stories.get(n)
        if story is None or story.page_status != 200:
            status = 404 if story is None else story.page_status
            return Response(status, b"gone", {"Content-Type": "text/plain"})
        return Response(200, self.page(story), HTML)

    # -- feed --------------------------------------------------------------------------

    def rss(self) -> bytes:
        items = []
        for story in sorted(self.stories.values(), key=lambda s: s.modified, reverse=True):
            if story.status != "publish":
                continue
            content = ""
            if self.feed_full:
                content = f"<content:encoded><![CDATA[{story.body_html()}]]></content:encoded>"
            items.append(
                f"<item><title>{escape(story.title)}</title>"
                f"<link>{self.url(story.path)}</link>"
                f"<guid>{self.url(story.path)}</guid>"
                f"<pubDate>{story.modified.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
                f"<description>{escape(story.body[0][:80])}</description>{content}</item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
            f"<channel><title>The Test Daily</title><link>{self.url('/')}</link>"
            f"<description>News</description>{''.join(items)}</channel></rss>"
        ).encode()

    def _feed(self, request: BaseHTTPRequestHandler) -> Response:
        if request.headers.get("If-None-Match") == self.feed_etag:
            return Response(304, b"", {"ETag": self.feed_etag})
        return Response(
            200, self.rss(), {"Content-Type": "application/rss+xml", "ETag": self.feed_etag}
        )

    # -- WordPress ---------------------------------------------------------------------

    def posts(self) -> bytes:
        posts = []
        for story in sorted(self.stories.values(), key=lambda s: s.modified, reverse=True):
            posts.append(
                {
                    "id": story.n,
                    "link": self.url(story.path),
                    "status": story.status,
                    "date_gmt": story.modified.strftime("%Y-%m-%dT%H:%M:%S"),
                    "modified_gmt": story.modified.strftime("%Y-%m-%dT%H:%M:%S"),
                    "title": {"rendered": escape(story.title)},
                    "content": {"rendered": story.body_html(), "protected": False},
                    "excerpt": {"rendered": ""},
                }
            )
        return json.dumps(posts).encode()

    def _posts(self, request: BaseHTTPRequestHandler) -> Response:
        return Response(
            200, self.posts(), {"Content-Type": "application/json", "X-WP-TotalPages": "1"}
        )

    # -- sitemap -----------------------------------------------------------------------

    def sitemap(self) -> bytes:
        urls = "".join(
            f"<url><loc>{self.url(story.path)}</loc>"
            f"<lastmod>{story.modified.isoformat()}</lastmod></url>"
            for story in self.stories.values()
            if story.status == "publish"
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        ).encode()

    def _sitemap(self, request: BaseHTTPRequestHandler) -> Response:
        return Response(200, self.sitemap(), {"Content-Type": "application/xml"})

    def serve(self, max_story: int = 2000) -> None:
        """Route the feed, the posts endpoint, the sitemap and story pages 1..max_story."""
        self.server.route("/feed.xml", self._feed)
        self.server.route("/wp-json/wp/v2/posts", self._posts)
        self.server.route("/sitemap.xml", self._sitemap)
        for n in range(1, max_story + 1):
            self.server.route(f"/news/story-{n}", lambda _r, n=n: self._page_handler(n))

    def page_requests(self) -> int:
        """How many story pages have been requested so far."""
        return sum(1 for _, path, _ in self.server.requests if path.startswith("/news/"))
