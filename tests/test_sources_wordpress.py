"""The WordPress REST API read through the guarded client from a loopback server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from republish.ingest.sources import SourceError
from republish.ingest.sources.wordpress import posts_endpoint, read_wordpress
from republish.net import Client
from tests.servers import LoopbackServer, Response
from tests.sources_fixtures import (
    JSON,
    loopback_client,
    make_posts,
    recorded,
    wordpress_pages,
    wordpress_site,
)

ENDPOINT = "/wp-json/wp/v2/posts"
PAGES = [recorded("wordpress/posts-1.json"), recorded("wordpress/posts-2.json")]


@pytest.fixture
def fetcher() -> Iterator[Client]:
    with loopback_client() as client:
        yield client


@pytest.fixture
def site(http_server: LoopbackServer) -> LoopbackServer:
    http_server.route(ENDPOINT, wordpress_pages(PAGES))
    return http_server


def _queries(server: LoopbackServer) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(path).query) for _, path, _ in server.requests]


def test_reads_every_page(site: LoopbackServer, fetcher: Client) -> None:
    listing = read_wordpress(fetcher, site.url("/"))

    assert listing.complete
    queries = _queries(site)
    assert [q["page"] for q in queries] == [["1"], ["2"]]
    for query in queries:
        assert query["orderby"] == ["modified"] and query["order"] == ["desc"]
        assert query["per_page"] == ["100"]
        assert query["_embed"] == ["author,wp:term"]
        assert "modified_after" not in query
    assert [e.url for e in listing.entries] == [
        "https://prairie.example/2026/11/30/school-board-budget/",
        "https://prairie.example/2026/11/28/grain-elevator-fire/",
        "https://prairie.example/2026/11/20/members-only-interview/",
        "https://prairie.example/2026/11/18/library-bond/",
        "https://prairie.example/2026/11/16/retracted-story/",
    ]


def test_post_becomes_a_story(site: LoopbackServer, fetcher: Client) -> None:
    entry = read_wordpress(fetcher, site.url("/")).entries[0]

    story = entry.extracted
    assert story is not None and not entry.removed
    assert story.headline == (
        "School board trims the budget by \u201cevery last dime\u201d & keeps bus routes"
    )
    assert story.bylines == ("Marisol Vega",)
    assert story.section == "Education"
    assert story.tags == ("School board", "Budget")
    assert story.published_at == datetime(2026, 11, 30, 14, 5, tzinfo=UTC)
    assert story.updated_at == datetime(2026, 11, 30, 16, 40, tzinfo=UTC)
    assert entry.modified_at == story.updated_at
    assert story.canonical_url == entry.url
    assert story.dek == "Six positions will go unfilled, but every bus route stays."
    assert "<h2>Where the money goes</h2>" in story.body_html
    assert "<li>Staffing: $780,000</li>" in story.body_html
    assert 'href="https://prairie.example/2026/10/bus-routes-survey/"' in story.body_html
    # Figures (images, captions) and WordPress's classes are not part of a story.
    assert "figcaption" not in story.body_html and "library." not in story.body_text
    assert "class=" not in story.body_html
    assert "next year\u2019s budget" in story.body_text


def test_coauthors_and_automatic_excerpt(site: LoopbackServer, fetcher: Client) -> None:
    entry = read_wordpress(fetcher, site.url("/")).entries[1]

    story = entry.extracted
    assert story is not None
    assert story.bylines == ("Dana Brooks", "Omar Haddad")  # Co-Authors Plus
    assert story.section == ""  # "Uncategorized" is no section
    assert story.tags == ()
    assert story.dek == ""  # WordPress's own excerpt ("... […]") is the body's opening
    assert "onclick" not in story.body_html and "javascript:" not in story.body_html


def test_protected_trashed_and_scheduled_posts(site: LoopbackServer, fetcher: Client) -> None:
    entries = {e.url: e for e in read_wordpress(fetcher, site.url("/")).entries}

    protected = entries["https://prairie.example/2026/11/20/members-only-interview/"]
    trashed = entries["https://prairie.example/2026/11/16/retracted-story/"]
    assert protected.removed and protected.extracted is None
    assert trashed.removed and trashed.extracted is None
    assert trashed.modified_at == datetime(2026, 11, 17, 14, 0, tzinfo=UTC)
    assert "https://prairie.example/?p=779" not in entries  # scheduled: not public yet
    bond = entries["https://prairie.example/2026/11/18/library-bond/"]
    assert bond.extracted is not None and not bond.removed
    assert bond.extracted.bylines == ()  # the embedded author was an error object
    assert bond.extracted.section == "Politics & Elections"
    assert bond.extracted.tags == ("Library",)
    assert bond.extracted.updated_at is None  # never modified after publication


def test_modified_after_makes_a_partial_listing(site: LoopbackServer, fetcher: Client) -> None:
    since = datetime(2026, 11, 30, 8, 0, tzinfo=timezone(timedelta(hours=-5)))

    listing = read_wordpress(fetcher, site.url("/"), modified_after=since)

    assert not listing.complete
    assert _queries(site)[0]["modified_after"] == ["2026-11-30T13:00:00+00:00"]


def test_max_pages_makes_a_partial_listing(site: LoopbackServer, fetcher: Client) -> None:
    listing = read_wordpress(fetcher, site.url("/"), max_pages=1, per_page=2)

    assert not listing.complete
    assert len(site.requests) == 1
    assert _queries(site)[0]["per_page"] == ["2"]
    assert len(listing.entries) == 2


@pytest.mark.parametrize("end", ["empty-page", "past-the-end-400"])
def test_paging_without_the_total_header(
    http_server: LoopbackServer, fetcher: Client, end: str
) -> None:
    # Without X-WP-TotalPages, reading stops at an empty page or WordPress's 400 past
    # the last page.
    pages = [*PAGES, b"[]"] if end == "empty-page" else PAGES
    http_server.route(ENDPOINT, wordpress_pages(pages, total_header=False))

    listing = read_wordpress(fetcher, http_server.url("/"))

    assert listing.complete and len(listing.entries) == 5
    assert len(http_server.requests) == 3


@pytest.mark.parametrize(
    ("given", "endpoint"),
    [
        ("https://prairie.example", "https://prairie.example/wp-json/wp/v2/posts"),
        ("https://prairie.example/", "https://prairie.example/wp-json/wp/v2/posts"),
        ("https://prairie.example/wp-json", "https://prairie.example/wp-json/wp/v2/posts"),
        ("https://prairie.example/wp-json/", "https://prairie.example/wp-json/wp/v2/posts"),
        (
            "https://prairie.example/wp-json/wp/v2/posts?per_page=5",
            "https://prairie.example/wp-json/wp/v2/posts",
        ),
        ("http://example.org/blog/", "http://example.org/blog/wp-json/wp/v2/posts"),
        ("http://example.org/blog/wp-json/", "http://example.org/blog/wp-json/wp/v2/posts"),
    ],
)
def test_site_root_or_api_root(given: str, endpoint: str) -> None:
    assert posts_endpoint(given) == endpoint


@pytest.mark.parametrize("url", ["ftp://prairie.example/", "prairie.example", "javascript:x"])
def test_bad_site_url(fetcher: Client, url: str) -> None:
    with pytest.raises(SourceError, match="not an absolute http"):
        read_wordpress(fetcher, url)


def test_api_root_is_accepted(site: LoopbackServer, fetcher: Client) -> None:
    listing = read_wordpress(fetcher, site.url("/wp-json/"))

    assert len(listing.entries) == 5


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (Response(404, recorded("wordpress/error-no-route.json"), JSON), "answered 404"),
        (
            Response(200, b"<html><body>Home</body></html>", {"Content-Type": "text/html"}),
            "got text/html",
        ),
        (Response(200, b"{not json", JSON), "is not JSON"),
        (Response(200, b'{"posts": []}', JSON), "is not a list of posts"),
        (Response(200, b"[1, 2, 3]", JSON), "is not a list of posts"),
        (
            Response(200, recorded("wordpress/error-no-route.json"), JSON),
            "WordPress answered rest_no_route: No route was found",
        ),
        (Response(200, b"[" * 100_000 + b"]" * 100_000, JSON), "is not JSON"),
    ],
    ids=["404", "html", "broken-json", "object", "not-posts", "error-object", "deep-json"],
)
def test_not_a_wordpress_api(
    http_server: LoopbackServer, fetcher: Client, response: Response, reason: str
) -> None:
    http_server.route(ENDPOINT, response)

    with pytest.raises(SourceError) as caught:
        read_wordpress(fetcher, http_server.url("/"))

    assert reason in str(caught.value) and "\n" not in str(caught.value)


def test_posts_without_a_usable_link_are_skipped(
    http_server: LoopbackServer, fetcher: Client
) -> None:
    posts = json.loads(PAGES[0])
    posts[0]["link"] = "/relative/path/"
    posts[1]["link"] = "javascript:alert(1)"
    posts.append({"id": 1, "status": "publish"})
    http_server.route(ENDPOINT, wordpress_pages([json.dumps(posts).encode()]))

    assert read_wordpress(fetcher, http_server.url("/")).entries == ()


def test_post_without_content_is_fetched_as_a_page(
    http_server: LoopbackServer, fetcher: Client
) -> None:
    posts = json.loads(PAGES[0])[:1]
    posts[0]["content"] = {"rendered": "", "protected": False}
    http_server.route(ENDPOINT, wordpress_pages([json.dumps(posts).encode()]))

    entry = read_wordpress(fetcher, http_server.url("/")).entries[0]

    assert entry.extracted is None and not entry.removed
    assert entry.url == "https://prairie.example/2026/11/30/school-board-budget/"


def test_pages_too_large_are_read_again_smaller(http_server: LoopbackServer) -> None:
    posts = make_posts(30, paragraphs=3)  # about 3 KB each
    http_server.route(ENDPOINT, wordpress_site(posts))

    with loopback_client(fetch_max_bytes=40_000) as client:
        listing = read_wordpress(client, http_server.url("/"))

    assert listing.complete and len(listing.entries) == 30
    sizes = [q["per_page"][0] for q in _queries(http_server)]
    assert sizes[:2] == ["100", "20"] and set(sizes[2:]) == {"4"}
    assert len(sizes) == 2 + 8  # 30 posts, 4 a page


def test_a_post_too_large_for_any_page(http_server: LoopbackServer) -> None:
    http_server.route(ENDPOINT, wordpress_site(make_posts(3, paragraphs=40)))

    with loopback_client(fetch_max_bytes=20_000) as client:
        with pytest.raises(
            SourceError, match="larger than the 20000 bytes limit .even with 4 posts"
        ):
            read_wordpress(client, http_server.url("/"))


def test_many_posts_over_many_pages(http_server: LoopbackServer, fetcher: Client) -> None:
    http_server.route(ENDPOINT, wordpress_site(make_posts(250)))

    listing = read_wordpress(fetcher, http_server.url("/"))

    assert listing.complete and len(listing.entries) == 250
    assert [q["page"][0] for q in _queries(http_server)] == ["1", "2", "3"]
    first = listing.entries[0].extracted
    assert first is not None and first.headline == "Story 0 \u2013 from the test site"


@pytest.mark.parametrize("value", [None, 7, 1.5, True, [], [1, [2]], {"a": {"b": []}}, "x" * 5000])
def test_fields_of_any_type_never_crash(
    http_server: LoopbackServer, fetcher: Client, value: object
) -> None:
    post = json.loads(PAGES[0])[0]
    weird = [{**post, key: value} for key in post]
    weird += [
        {**post, "_embedded": {"author": value, "wp:term": value}},
        {**post, "_embedded": {"wp:term": [value, [value]]}},
        {**post, "coauthors": [value]},
        {**post, "title": {"rendered": value}, "content": {"rendered": value}},
    ]
    http_server.route(ENDPOINT, wordpress_pages([json.dumps(weird).encode()]))

    listing = read_wordpress(fetcher, http_server.url("/"))

    # The post with its link intact is listed once, whatever else is odd about it.
    assert [e.url for e in listing.entries] == [post["link"]]
