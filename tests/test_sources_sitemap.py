"""Sitemaps, sitemap indexes, news and gzip sitemaps read from a loopback server."""

from __future__ import annotations

import gzip
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from republish.ingest.sources import SourceError
from republish.ingest.sources.sitemap import read_sitemap
from republish.net import Client
from tests.servers import LoopbackServer, Response
from tests.sources_fixtures import XML, loopback_client, recorded, sitemap_file

GZIP_FILE = {"Content-Type": "application/x-gzip"}
SITE = "https://tidewater.example/news/2026"


@pytest.fixture
def fetcher() -> Iterator[Client]:
    with loopback_client() as client:
        yield client


@pytest.fixture
def site(http_server: LoopbackServer) -> LoopbackServer:
    """The recorded sitemap tree: an index, a nested index looping back, news, a gzip file."""
    base = http_server.url("")
    for path, name in [
        ("/sitemap_index.xml", "index.xml"),
        ("/sitemaps/archive-index.xml", "archive-index.xml"),
        ("/sitemaps/news.xml", "news.xml"),
        ("/sitemaps/posts-2026-11.xml", "posts-2026-11.xml"),
    ]:
        http_server.route(path, Response(200, sitemap_file(name, base), XML))
    packed = gzip.compress(sitemap_file("posts-2026-10.xml", base))
    http_server.route("/sitemaps/posts-2026-10.xml.gz", Response(200, packed, GZIP_FILE))
    return http_server


def _paths(server: LoopbackServer) -> list[str]:
    return [path for _, path, _ in server.requests]


def test_index_tree_newest_first(site: LoopbackServer, fetcher: Client) -> None:
    listing = read_sitemap(fetcher, site.url("/sitemap_index.xml"))

    assert [e.url for e in listing.entries] == [
        f"{SITE}/11/29/oyster-season",  # in the news sitemap and re-modified since
        f"{SITE}/11/30/dredging-contract",
        f"{SITE}/11/20/marsh-restoration",
        f"{SITE}/11/12/bridge-inspection",
        f"{SITE}/10/30/ferry-fares",
        f"{SITE}/10/02/town-meeting",
        "https://tidewater.example/about",  # no date: last
    ]
    dates = {e.url: e.modified_at for e in listing.entries}
    assert dates[f"{SITE}/11/29/oyster-season"] == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert dates[f"{SITE}/11/30/dredging-contract"] == datetime(2026, 11, 30, 15, 15, tzinfo=UTC)
    assert dates[f"{SITE}/11/20/marsh-restoration"] == datetime(2026, 11, 21, tzinfo=UTC)
    assert all(e.extracted is None and not e.removed for e in listing.entries)
    # The whole tree was read, and it holds more than the news window.
    assert listing.complete
    # Every sitemap once, although the nested index points back to the top one.
    assert sorted(_paths(site)) == sorted(
        [
            "/sitemap_index.xml",
            "/sitemaps/news.xml",
            "/sitemaps/posts-2026-11.xml",
            "/sitemaps/archive-index.xml",
            "/sitemaps/posts-2026-10.xml.gz",
        ]
    )


def test_news_sitemap_alone_is_a_window(site: LoopbackServer, fetcher: Client) -> None:
    listing = read_sitemap(fetcher, site.url("/sitemaps/news.xml"))

    assert [(e.url, e.modified_at) for e in listing.entries] == [
        (f"{SITE}/11/30/dredging-contract", datetime(2026, 11, 30, 15, 15, tzinfo=UTC)),
        (f"{SITE}/11/29/oyster-season", datetime(2026, 11, 29, tzinfo=UTC)),
    ]
    assert not listing.complete


def test_depth_bound(site: LoopbackServer, fetcher: Client) -> None:
    listing = read_sitemap(fetcher, site.url("/sitemap_index.xml"), max_depth=1)

    assert "/sitemaps/posts-2026-10.xml.gz" not in _paths(site)
    assert f"{SITE}/10/30/ferry-fares" not in {e.url for e in listing.entries}
    assert not listing.complete


def test_count_bound(site: LoopbackServer, fetcher: Client) -> None:
    listing = read_sitemap(fetcher, site.url("/sitemap_index.xml"), max_sitemaps=2)

    assert len(site.requests) == 2
    assert not listing.complete


def test_limit(site: LoopbackServer, fetcher: Client) -> None:
    listing = read_sitemap(fetcher, site.url("/sitemap_index.xml"), limit=2)

    assert [e.url for e in listing.entries] == [
        f"{SITE}/11/29/oyster-season",
        f"{SITE}/11/30/dredging-contract",
    ]
    assert not listing.complete


def test_failing_child_is_skipped(
    site: LoopbackServer, fetcher: Client, caplog: pytest.LogCaptureFixture
) -> None:
    site.route("/sitemaps/posts-2026-11.xml", Response(500, b"oops", XML))
    site.route("/sitemaps/news.xml", Response(200, recorded("rss2.xml"), XML))

    listing = read_sitemap(fetcher, site.url("/sitemap_index.xml"))

    urls = {e.url for e in listing.entries}
    assert urls == {f"{SITE}/10/30/ferry-fares", f"{SITE}/10/02/town-meeting"}
    assert not listing.complete
    assert "answered 500" in caplog.text and "<rss> root" in caplog.text


def test_content_encoding_gzip_is_inflated_by_the_client(
    http_server: LoopbackServer, fetcher: Client
) -> None:
    body = gzip.compress(recorded("sitemaps/posts-2026-10.xml"))
    url = http_server.route(
        "/sitemap.xml", Response(200, body, {**XML, "Content-Encoding": "gzip"})
    )

    listing = read_sitemap(fetcher, url)

    assert len(listing.entries) == 2 and listing.complete


def test_gzip_file_bomb_is_refused(http_server: LoopbackServer, fetcher: Client) -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * (20 * 1024 * 1024) + b"</urlset>")
    url = http_server.route("/sitemap.xml.gz", Response(200, bomb, GZIP_FILE))

    with pytest.raises(SourceError, match="inflates to more than the 1 MB limit"):
        read_sitemap(fetcher, url, max_bytes=1024 * 1024)


def test_corrupt_gzip_file(http_server: LoopbackServer, fetcher: Client) -> None:
    url = http_server.route("/s.xml.gz", Response(200, b"\x1f\x8b\x08\x00garbage", GZIP_FILE))

    with pytest.raises(SourceError, match="corrupt gzip"):
        read_sitemap(fetcher, url)


def test_relative_and_foreign_locations(http_server: LoopbackServer, fetcher: Client) -> None:
    body = b"""<?xml version="1.0"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>/news/relative</loc><lastmod>2026-11-01</lastmod></url>
  <url><loc>javascript:alert(1)</loc></url>
  <url><loc>file:///etc/passwd</loc></url>
  <url><lastmod>2026-11-02</lastmod></url>
  <url><loc>   </loc></url>
</urlset>"""
    url = http_server.route("/sitemap.xml", Response(200, body, XML))

    listing = read_sitemap(fetcher, url)

    assert [e.url for e in listing.entries] == [http_server.url("/news/relative")]


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"<!doctype html><html><body>Home</body></html>", "text/html", "got text/html"),
        (b"<!DOCTYPE html><html><body>Home</body></html>", "text/xml", "is an HTML page"),
        (recorded("rss2.xml"), "application/xml", "<rss> root"),
        (b"", "application/xml", "empty body"),
        (b"<urlset><url>", "application/xml", "not well-formed"),
        (b'{"urls": []}', "application/json", "got application/json"),
    ],
    ids=["html", "html-as-xml", "feed", "empty", "truncated", "json"],
)
def test_non_sitemaps_are_one_line_errors(
    http_server: LoopbackServer, fetcher: Client, body: bytes, content_type: str, reason: str
) -> None:
    url = http_server.route("/sitemap.xml", Response(200, body, {"Content-Type": content_type}))

    with pytest.raises(SourceError) as caught:
        read_sitemap(fetcher, url)

    assert reason in str(caught.value) and "\n" not in str(caught.value)


def test_bad_url(fetcher: Client) -> None:
    with pytest.raises(SourceError, match="not an absolute http"):
        read_sitemap(fetcher, "/sitemap.xml")


def test_large_sitemap_is_streamed(http_server: LoopbackServer, fetcher: Client) -> None:
    # 10,000 pages (1.3 MB): read element by element, so the peak is the body and the
    # entries, not a document tree several times the body's size.
    body = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(
            f"<url><loc>https://big.example/news/{i:05d}/a-story-slug-of-some-length</loc>"
            f"<lastmod>2026-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00Z</lastmod></url>"
            for i in range(10_000)
        )
        + "</urlset>"
    ).encode()
    url = http_server.route("/big.xml", Response(200, body, XML))

    tracemalloc.start()
    try:
        listing = read_sitemap(fetcher, url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert len(listing.entries) == 10_000 and listing.complete
    dates = [e.modified_at for e in listing.entries]
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]
    assert peak < 5 * len(body), f"peak {peak / 1e6:.1f} MB for a {len(body) / 1e6:.1f} MB body"


def test_text_sitemap(http_server: LoopbackServer, fetcher: Client) -> None:
    body = b"https://tidewater.example/news/a\r\n\r\n/news/relative\nhttps://tidewater.example/news/b\n"
    url = http_server.route("/sitemap.txt", Response(200, body, {"Content-Type": "text/plain"}))

    listing = read_sitemap(fetcher, url)

    # Lines must be full URLs: the relative one is skipped.
    assert sorted(e.url for e in listing.entries) == [
        "https://tidewater.example/news/a",
        "https://tidewater.example/news/b",
    ]
    assert listing.complete


@pytest.mark.parametrize(
    "body", [b'{"urls": ["https://a.example/"]}', b"just some words\nand more"]
)
def test_text_that_is_not_a_sitemap(
    http_server: LoopbackServer, fetcher: Client, body: bytes
) -> None:
    url = http_server.route("/sitemap.txt", Response(200, body, {"Content-Type": "text/plain"}))

    with pytest.raises(SourceError, match="is text, but not a list of page URLs"):
        read_sitemap(fetcher, url)


def test_newest_child_sitemaps_are_read_first(http_server: LoopbackServer, fetcher: Client) -> None:
    # An index listing its monthly sitemaps oldest first; with room for two fetches, the
    # index and the newest month are read.
    months = ["2026-09", "2026-10", "2026-11"]
    index = "".join(
        f"<sitemap><loc>{http_server.url(f'/m/{m}.xml')}</loc><lastmod>{m}-28</lastmod></sitemap>"
        for m in months
    )
    http_server.route(
        "/index.xml",
        Response(200, f"<sitemapindex>{index}</sitemapindex>".encode(), XML),
    )
    for m in months:
        page = (
            f"<urlset><url><loc>https://m.example/{m}</loc><lastmod>{m}-28</lastmod></url></urlset>"
        )
        http_server.route(f"/m/{m}.xml", Response(200, page.encode(), XML))

    listing = read_sitemap(fetcher, http_server.url("/index.xml"), max_sitemaps=2)

    assert [e.url for e in listing.entries] == ["https://m.example/2026-11"]
    assert not listing.complete
