"""RSS and Atom feeds read through the guarded client from a loopback server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from republish.ingest.sources import Entry, SourceError
from republish.ingest.sources.feed import FULL_CONTENT_MIN_CHARS, parse_feed, read_feed
from republish.net import Client
from tests.servers import LoopbackServer, Response
from tests.sources_fixtures import RSS, XML, loopback_client, make_feed, recorded


@pytest.fixture
def fetcher() -> Iterator[Client]:
    with loopback_client() as client:
        yield client


def _by_url(entries: tuple[Entry, ...]) -> dict[str, Entry]:
    return {entry.url: entry for entry in entries}


def test_rss2_full_content_entry_is_a_story(http_server: LoopbackServer, fetcher: Client) -> None:
    url = http_server.route("/feed/", Response(200, recorded("rss2.xml"), RSS))

    listing = read_feed(fetcher, url)

    assert not listing.complete and not listing.not_modified
    entry = listing.entries[0]
    assert entry.url == "https://ledger.example/2026/11/river-crossing-vote/"
    story = entry.extracted
    assert story is not None
    assert story.headline == "County board delays the vote on the river crossing & its tolls"
    assert story.bylines == ("Ana Ruiz", "Tom Becker")
    assert story.published_at == datetime(2026, 11, 30, 14, 30, tzinfo=UTC)
    assert entry.modified_at == story.published_at
    assert story.canonical_url == entry.url
    assert story.section == "Government"
    assert story.tags == ("Government", "Transportation", "River crossing")
    assert story.dek.startswith("Supervisors want another month")
    assert story.site_name == "The Valley Ledger"
    # Cleaned through the project's allow-list: structure kept, scripts and handlers gone,
    # relative links made absolute against the story's own URL.
    assert '<a href="https://ledger.example/documents/crossing-study/">' in story.body_html
    assert "<h2>What the study found</h2>" in story.body_html
    assert "<li>A two-lane bridge would cost about $48 million.</li>" in story.body_html
    assert "<blockquote>" in story.body_html
    for bad in ("<script", "trackRead", "onload", "<img"):
        assert bad not in story.body_html
    assert "- Tolls of $2 per crossing" in story.body_text
    assert len(story.body_text) >= FULL_CONTENT_MIN_CHARS


def test_rss2_summary_only_and_unusable_entries(
    http_server: LoopbackServer, fetcher: Client
) -> None:
    url = http_server.route("/feed/", Response(200, recorded("rss2.xml"), RSS))

    entries = read_feed(fetcher, url).entries

    # The javascript: link is skipped; the relative link resolves against the feed URL.
    assert [e.url for e in entries] == [
        "https://ledger.example/2026/11/river-crossing-vote/",
        http_server.url("/2026/11/robotics-state-final/"),
        "https://ledger.example/2026/11/farmers-market-winter/",
    ]
    robotics, market = entries[1], entries[2]
    # Only a description: the page has to be fetched.
    assert robotics.extracted is None
    assert robotics.modified_at == datetime(2026, 11, 29, 14, 15, tzinfo=UTC)
    # content:encoded that only repeats a one-line teaser is not the story either.
    assert market.extracted is None


def test_atom_html_and_xhtml_content(http_server: LoopbackServer, fetcher: Client) -> None:
    url = http_server.route(
        "/atom.xml", Response(200, recorded("atom.xml"), {"Content-Type": "application/atom+xml"})
    )

    entries = read_feed(fetcher, url).entries
    by_url = _by_url(entries)

    # Newest change first: the ferry story was updated after the seals story was.
    assert [e.url for e in entries] == [
        "https://harbor.example/news/2026/ferry-schedule-winter",
        "https://harbor.example/news/2026/seals-north-jetty",
        "https://harbor.example/news/2026/library-hours",
    ]
    ferry = by_url["https://harbor.example/news/2026/ferry-schedule-winter"].extracted
    assert ferry is not None
    assert ferry.headline == "Ferry schedule cut for the winter months"
    assert ferry.bylines == ("Jonas Berg", "Keiko Tanaka")
    assert ferry.published_at == datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    assert ferry.updated_at == datetime(2026, 11, 30, 11, 20, tzinfo=UTC)
    assert ferry.section == "Transport"
    assert ferry.tags == ("Transport", "ferries")
    # xml:base and the entry link resolve the relative link; hostile bits are gone.
    assert 'href="https://harbor.example/news/2026/timetables/winter"' in ferry.body_html
    assert "onclick" not in ferry.body_html and "javascript:" not in ferry.body_html
    assert "<p>Comment on this story</p>" in ferry.body_html

    seals = by_url["https://harbor.example/news/2026/seals-north-jetty"].extracted
    assert seals is not None
    assert seals.body_html.count("<p>") == 3
    assert seals.bylines == ("Keiko Tanaka",)
    # Only <updated>: that is the story's date.
    assert seals.published_at == datetime(2026, 11, 29, 15, 0, tzinfo=UTC)
    assert seals.updated_at is None

    assert by_url["https://harbor.example/news/2026/library-hours"].extracted is None


def test_rss1_rdf(http_server: LoopbackServer, fetcher: Client) -> None:
    url = http_server.route(
        "/rss", Response(200, recorded("rss1.rdf"), {"Content-Type": "application/rdf+xml"})
    )

    entries = read_feed(fetcher, url).entries

    assert [e.url for e in entries] == [
        "https://mesa.example/stories/water-rates",
        "https://mesa.example/stories/trail-closure",
    ]
    water = entries[0].extracted
    assert water is not None
    assert water.bylines == ("Rosa Delgado", "Sam Whitehorse")
    assert water.published_at == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert water.section == "Utilities"
    assert entries[1].extracted is None
    assert entries[1].modified_at == datetime(2026, 11, 30, 0, 30, tzinfo=UTC)


def test_conditional_requests(http_server: LoopbackServer, fetcher: Client) -> None:
    body = recorded("rss2.xml")
    validators = {"ETag": '"v7"', "Last-Modified": "Mon, 30 Nov 2026 14:31:00 GMT"}

    def handler(request: BaseHTTPRequestHandler) -> Response:
        if request.headers.get("If-None-Match") == '"v7"':
            return Response(304, b"", {})
        return Response(200, body, {**RSS, **validators})

    url = http_server.route("/feed/", handler)

    first = read_feed(fetcher, url)
    assert first.etag == '"v7"' and first.last_modified == validators["Last-Modified"]
    assert len(first.entries) == 3

    again = read_feed(fetcher, url, etag=first.etag, last_modified=first.last_modified)

    assert again.not_modified and again.entries == ()
    assert again.etag == '"v7"' and again.last_modified == validators["Last-Modified"]
    sent = http_server.requests[-1][2]
    assert sent["If-None-Match"] == '"v7"'
    assert sent["If-Modified-Since"] == validators["Last-Modified"]
    assert "If-None-Match" not in http_server.requests[0][2]


def test_limit_keeps_the_newest(http_server: LoopbackServer, fetcher: Client) -> None:
    url = http_server.route("/big", Response(200, make_feed(30), RSS))

    entries = read_feed(fetcher, url, limit=5).entries

    assert [e.url for e in entries] == [
        f"https://feedtown.example/news/story-{i}" for i in range(5)
    ]


def test_thousand_entry_feed(http_server: LoopbackServer, fetcher: Client) -> None:
    url = http_server.route("/big", Response(200, make_feed(1000), RSS))

    entries = read_feed(fetcher, url).entries

    assert len(entries) == 1000
    assert len({e.url for e in entries}) == 1000
    assert all(e.extracted is not None and e.extracted.headline for e in entries)
    dates = [e.modified_at for e in entries]
    assert all(d is not None for d in dates)
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]


def test_make_feed_marks_changed_entries(http_server: LoopbackServer, fetcher: Client) -> None:
    assert make_feed(3) == make_feed(3)
    url = http_server.route("/f", Response(200, make_feed(3, changed={1}, revision=2), RSS))

    entries = _by_url(read_feed(fetcher, url).entries)

    changed = entries["https://feedtown.example/news/story-1"].extracted
    same = entries["https://feedtown.example/news/story-2"].extracted
    assert changed is not None and same is not None
    assert "Update 2:" in changed.body_text and "Update" not in same.body_text


def test_summary_only_feed(http_server: LoopbackServer, fetcher: Client) -> None:
    url = http_server.route("/f", Response(200, make_feed(4, full=False), RSS))

    entries = read_feed(fetcher, url).entries

    assert len(entries) == 4 and all(e.extracted is None for e in entries)


def test_redirected_feed_resolves_links_against_the_final_url(
    http_server: LoopbackServer, fetcher: Client
) -> None:
    http_server.route("/old-feed", Response(301, b"", {"Location": "/new/feed.xml"}))
    http_server.route("/new/feed.xml", Response(200, recorded("rss2.xml"), RSS))

    entries = read_feed(fetcher, http_server.url("/old-feed")).entries

    assert entries[1].url == http_server.url("/2026/11/robotics-state-final/")


def test_feedparser_fetches_nothing(http_server: LoopbackServer, fetcher: Client) -> None:
    # A feed full of references a fetching parser would follow: xml:base, a stylesheet
    # instruction, enclosures, images, a source feed. Only the feed itself is requested.
    base = http_server.url("")
    feed = f"""<?xml version="1.0"?>
<?xml-stylesheet type="text/xsl" href="{base}/style.xsl"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{base}/base/">
  <title>T</title><logo>{base}/logo.png</logo>
  <entry><title>One</title><link href="one"/><id>1</id>
    <link rel="enclosure" href="{base}/audio.mp3"/>
    <source><link rel="self" href="{base}/upstream.xml"/></source>
    <content type="xhtml" xml:base="{base}/content/">
      <div xmlns="http://www.w3.org/1999/xhtml"><img src="pic.jpg"/><p>x</p></div>
    </content>
  </entry>
</feed>""".encode()
    url = http_server.route("/atom", Response(200, feed, XML))

    entries = read_feed(fetcher, url).entries

    assert [e.url for e in entries] == [http_server.url("/base/one")]
    assert [path for _, path, _ in http_server.requests] == ["/atom"]


def test_feed_bytes_naming_a_file_are_not_opened(tmp_path: Path) -> None:
    # Handed bytes, feedparser would take them for a file name and read that file.
    path = tmp_path / "local-feed.xml"
    path.write_bytes(make_feed(2))

    with pytest.raises(SourceError, match="not a feed"):
        parse_feed(str(path).encode(), "https://feeds.example/f")


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (recorded("not-a-feed.html"), "text/html", "got text/html"),
        (recorded("not-a-feed.html"), "application/xml", "is an HTML page"),
        (b'{"items": []}', "application/json", "got application/json"),
        (b"", "application/rss+xml", "empty body"),
        (b"   \n", "text/xml", "empty body"),
        (recorded("not-a-feed.xml"), "text/xml", "<opml> root"),
        (b"<rss><channel><item>", "text/xml", "not well-formed"),
        (b"plain words", "text/plain", "not well-formed"),
    ],
    ids=["html", "html-as-xml", "json", "empty", "blank", "opml", "truncated", "text"],
)
def test_non_feeds_are_one_line_errors(
    http_server: LoopbackServer, fetcher: Client, body: bytes, content_type: str, reason: str
) -> None:
    url = http_server.route("/feed", Response(200, body, {"Content-Type": content_type}))

    with pytest.raises(SourceError) as caught:
        read_feed(fetcher, url)

    message = str(caught.value)
    assert reason in message and "\n" not in message


def test_missing_feed(http_server: LoopbackServer, fetcher: Client) -> None:
    with pytest.raises(SourceError, match="answered 404"):
        read_feed(fetcher, http_server.url("/nowhere"))


def test_guid_permalink_and_feedburner_origlink(
    http_server: LoopbackServer, fetcher: Client
) -> None:
    feed = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0">
<channel><title>T</title>
<item><title>A</title><guid>https://a.example/perma</guid></item>
<item><title>B</title><guid isPermaLink="false">https://a.example/not-a-link</guid></item>
<item><title>C</title><link>https://redirect.example/~r/x/abc/</link>
  <feedburner:origLink>https://a.example/real</feedburner:origLink></item>
</channel></rss>"""
    url = http_server.route("/f", Response(200, feed, RSS))

    entries = read_feed(fetcher, url).entries

    assert [e.url for e in entries] == ["https://a.example/perma", "https://a.example/real"]


def test_validators_come_from_the_latest_answer(
    http_server: LoopbackServer, fetcher: Client
) -> None:
    # The server stopped sending validators: the old ones are not carried forward.
    url = http_server.route("/feed/", Response(200, recorded("rss2.xml"), RSS))

    listing = read_feed(fetcher, url, etag='"old"', last_modified="Sun, 29 Nov 2026 10:00:00 GMT")

    assert listing.etag is None and listing.last_modified is None
    assert http_server.requests[0][2]["If-None-Match"] == '"old"'


def test_overlong_terms_are_dropped(http_server: LoopbackServer, fetcher: Client) -> None:
    feed = make_feed(1).replace(
        b"<category>Council</category>", b"<category>" + b"x" * 300 + b"</category>"
    )
    url = http_server.route("/f", Response(200, feed, RSS))

    story = read_feed(fetcher, url).entries[0].extracted

    assert story is not None
    assert story.tags == ("Alder Creek",) and story.section == "Alder Creek"


@pytest.mark.parametrize("charset_header", ["", "; charset=utf-8", "; charset=iso-8859-1"])
@pytest.mark.parametrize("encoding", ["utf-16", "iso-8859-1", "utf-8-sig"])
def test_the_document_decides_its_encoding(
    http_server: LoopbackServer, fetcher: Client, encoding: str, charset_header: str
) -> None:
    # defusedxml reads the bytes by their BOM and XML declaration; feedparser must read
    # them the same way, whatever charset the HTTP header claims.
    text = recorded("rss2.xml").decode().replace("County board", "Comt\u00e9 board")
    declared = {"utf-16": "UTF-16", "iso-8859-1": "ISO-8859-1", "utf-8-sig": "UTF-8"}[encoding]
    body = text.replace('encoding="UTF-8"', f'encoding="{declared}"').encode(encoding)
    url = http_server.route(
        "/feed", Response(200, body, {"Content-Type": "application/rss+xml" + charset_header})
    )

    story = read_feed(fetcher, url).entries[0].extracted

    assert story is not None and story.headline.startswith("Comt\u00e9 board delays")
