"""Hostile input to every source reader: XML bombs, external entities, hostile HTML in
feeds, non-feeds, huge, endless and slow responses, redirect loops.

Each must end in a one-line :class:`SourceError` (or, for hostile HTML, a listing whose
bodies hold nothing but the story allow-list) within bounded time and memory. The time
bounds here are safety limits (the fetch deadline plus slack), not performance figures.
"""

from __future__ import annotations

import functools
import gzip
import re
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from republish.clean import ALLOWED_ATTRIBUTES, ALLOWED_TAGS
from republish.ingest.sources import Listing, SourceError
from republish.ingest.sources._read import accept_xml
from republish.ingest.sources.feed import parse_feed, read_feed
from republish.ingest.sources.sitemap import read_sitemap
from republish.ingest.sources.wordpress import read_wordpress
from republish.net import Client
from tests.servers import LoopbackServer, Response
from tests.sources_fixtures import XML, loopback_client, make_posts, wordpress_site

MB = 1024 * 1024
#: Peak Python allocation allowed while reading one hostile document (the fetch limit is
#: 10 MB by default; the hostile documents here are all far smaller).
PEAK_BYTES = 32 * MB

Reader = Callable[[Client, str], Listing]
READERS: dict[str, Reader] = {
    "feed": lambda client, url: read_feed(client, url),
    "sitemap": lambda client, url: read_sitemap(client, url),
}


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    loopback = LoopbackServer()
    loopback.start()
    yield loopback
    loopback.stop()


@pytest.fixture
def fetcher() -> Iterator[Client]:
    with loopback_client() as client:
        yield client


def _bounded(call: Callable[[], object], seconds: float) -> BaseException | None:
    """Run ``call``; its error (or None), after checking time and peak memory."""
    tracemalloc.start()
    started = time.monotonic()
    error: BaseException | None = None
    try:
        call()
    except BaseException as exc:  # noqa: BLE001 - the caller checks what it was
        error = exc
    finally:
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.1f} s"
    assert peak < PEAK_BYTES, f"peak {peak / MB:.1f} MB"
    return error


def _refused(error: BaseException | None) -> str:
    assert isinstance(error, SourceError), repr(error)
    message = str(error)
    assert message and "\n" not in message
    return message


def _xml_attacks(shared: Path) -> list[tuple[str, bytes]]:
    """Every XML attack document of the shared corpus, and every line of its payload lists."""
    base = shared / "data" / "security" / "xml"
    found: list[tuple[str, bytes]] = []
    for path in sorted((base / "defusedxml-xmltestdata").glob("*.xml")):
        found.append((path.name, path.read_bytes()))
    for path in sorted((base / "payloadsallthethings-xxe" / "files").iterdir()):
        found.append((path.name, path.read_bytes()))
    for name in ("XXE_Fuzzing.txt", "xml-attacks.txt"):
        lines = (base / "payloadsallthethings-xxe" / name).read_bytes().splitlines()
        found.extend((f"{name}:{n}", line) for n, line in enumerate(lines, 1) if line.strip())
    return found


@pytest.mark.shared
@pytest.mark.parametrize("reader", sorted(READERS))
def test_xml_attack_corpus_is_refused(
    shared_dir: Path, server: LoopbackServer, fetcher: Client, reader: str
) -> None:
    attacks = _xml_attacks(shared_dir)
    assert len(attacks) > 100
    reasons: dict[str, str] = {}
    for name, body in attacks:
        url = server.route(f"/attack/{reader}", Response(200, body, XML))
        error = _bounded(lambda url=url: READERS[reader](fetcher, url), seconds=5)  # type: ignore[misc]
        reasons[name] = _refused(error)
    # Everything with a DTD is refused for the DTD itself, before any entity is looked at.
    for name in ("xmlbomb.xml", "quadratic.xml", "cyclic.xml", "external.xml", "dtd.xml"):
        assert "declares a DTD" in reasons[name], reasons[name]
    # The benign controls are well-formed XML, just not feeds or sitemaps.
    assert "<root> root" in reasons["simple.xml"]


def test_external_entity_is_never_fetched(server: LoopbackServer, fetcher: Client) -> None:
    secret = server.route(
        "/secret.txt", Response(200, b"TOP SECRET", {"Content-Type": "text/plain"})
    )
    feed = f"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY leak SYSTEM "{secret}"><!ENTITY file SYSTEM "file:///etc/hostname">]>
<rss version="2.0"><channel><title>&leak;</title><item><title>&file;</title>
<link>https://feeds.example/a</link></item></channel></rss>""".encode()
    url = server.route("/xxe-feed", Response(200, feed, XML))
    before = len(server.requests)

    message = _refused(_bounded(lambda: read_feed(fetcher, url), seconds=5))

    assert "declares a DTD" in message
    assert [path for _, path, _ in server.requests[before:]] == ["/xxe-feed"]


def test_billion_laughs_inside_a_feed(server: LoopbackServer, fetcher: Client) -> None:
    levels = ['<!ENTITY l0 "ha">'] + [
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)
    ]
    feed = (
        f'<?xml version="1.0"?><!DOCTYPE rss [{"".join(levels)}]>'
        '<rss version="2.0"><channel><title>&l9;</title></channel></rss>'
    ).encode()
    url = server.route("/laughs", Response(200, feed, XML))

    message = _refused(_bounded(lambda: read_feed(fetcher, url), seconds=5))

    assert "declares a DTD" in message


def test_internal_entities_without_a_doctype_are_not_expanded(
    server: LoopbackServer, fetcher: Client
) -> None:
    # An undeclared entity is simply malformed XML.
    feed = b'<?xml version="1.0"?><rss version="2.0"><channel><title>&bomb;</title></channel></rss>'
    url = server.route("/undeclared", Response(200, feed, XML))

    assert "not well-formed" in _refused(_bounded(lambda: read_feed(fetcher, url), seconds=5))


def _check_clean(body_html: str) -> None:
    """Only allow-listed elements; only ``href`` on links, with a safe scheme."""
    if not body_html:
        return
    root = lxml.html.fragment_fromstring(body_html, create_parent="div")
    for element in root.iter():
        if element is root:
            continue
        assert isinstance(element.tag, str) and element.tag in ALLOWED_TAGS, element.tag
        allowed = ALLOWED_ATTRIBUTES.get(element.tag, set())
        assert set(element.attrib) <= allowed, (element.tag, dict(element.attrib))
        href = element.get("href")
        if href is not None:
            assert re.match(r"(?i)(https?|mailto):", href), href
    assert "javascript:" not in body_html.lower()
    assert not re.search(r"(?i)<\s*script|\son\w+\s*=", body_html)


def _with_link(content: bytes, n: int) -> bytes:
    """The feed with a title and link added to each entry (the corpus has neither, and an
    entry without a link is skipped before its content is looked at)."""
    link = f"https://feeds.example/story-{n}".encode()
    if re.search(rb"<feed\b", content):
        extra = b'<title>Story</title><link rel="alternate" href="' + link + b'"/>'
        return re.sub(rb"<entry>", b"<entry>" + extra, content)
    return re.sub(rb"<item>", b"<item><title>Story</title><link>" + link + b"</link>", content)


@pytest.mark.shared
def test_hostile_html_feeds_are_cleaned(shared_dir: Path) -> None:
    folder = shared_dir / "data" / "security" / "feeds" / "feedparser-sanitize"
    files = sorted(folder.glob("*.xml"))
    assert len(files) >= 60
    bodies = refused = 0
    for n, path in enumerate(files):
        content = _with_link(path.read_bytes(), n)
        outcome: list[list[Any]] = []

        def read(
            content: bytes = content, name: str = path.name, outcome: list[Any] = outcome
        ) -> None:
            accept_xml(content, name, "a feed")
            # Every content, however short, is treated as a story here, so that the
            # sanitizing of each one is seen.
            outcome.append(parse_feed(content, "https://feeds.example/feed.xml", min_chars=1))

        error = _bounded(read, seconds=5)
        if error is not None:
            _refused(error)
            refused += 1
            continue
        for entry in outcome.pop():
            if entry.extracted is not None:
                _check_clean(entry.extracted.body_html)
                assert "<" not in entry.extracted.dek
                bodies += 1
    # Bodies with text left after cleaning (an image with a handler leaves none, and an
    # RSS description is a summary, never a body).
    assert bodies >= 15
    assert refused <= 5  # malformed ones (an unclosed comment, a stray character)


@pytest.mark.shared
@pytest.mark.parametrize("name", ["entry_content_script.xml", "entry_content_onclick.xml"])
def test_hostile_feed_over_http(
    shared_dir: Path, server: LoopbackServer, fetcher: Client, name: str
) -> None:
    path = shared_dir / "data" / "security" / "feeds" / "feedparser-sanitize" / name
    url = server.route(f"/hostile/{name}", Response(200, path.read_bytes(), XML))

    listing = read_feed(fetcher, url)

    # Short content counts as a summary over HTTP: the page would be fetched and
    # extracted (and cleaned) instead; nothing of the hostile body is passed on.
    for entry in listing.entries:
        assert entry.extracted is None or "script" not in entry.extracted.body_html


# --- responses that never become a document ---------------------------------------------

ALL_READERS: dict[str, tuple[str, Reader]] = {
    # reader -> (path the server must answer, how the reader is called with the base URL)
    "feed": ("/src", lambda client, base: read_feed(client, base + "/src")),
    "sitemap": ("/src", lambda client, base: read_sitemap(client, base + "/src")),
    "wordpress": ("/wp-json/wp/v2/posts", lambda client, base: read_wordpress(client, base)),
}


@functools.cache
def _gzip_bomb() -> bytes:
    return gzip.compress(b" " * (64 * MB))


def _trickle(stop: threading.Event) -> Iterator[bytes]:
    while not stop.is_set():
        yield b"<"
        stop.wait(0.05)


def _endless(stop: threading.Event) -> Iterator[bytes]:
    chunk = b"<url>" * 800
    while not stop.is_set():
        yield b"%x\r\n%s\r\n" % (len(chunk), chunk)


@pytest.mark.parametrize("reader", sorted(ALL_READERS))
@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("huge", "larger than the 1 MB limit"),
        ("endless", "larger than the 1 MB limit"),
        ("compressed-bomb", "larger than the 1 MB limit"),
        ("trickle", "took longer than 1 s"),
        ("silent", "took longer than 1 s"),
        ("redirect-loop", "redirect loop"),
        ("redirect-chain", "redirected more than"),
        ("blocked", "refused"),
    ],
)
def test_unusable_responses(
    http_server: LoopbackServer, reader: str, case: str, reason: str
) -> None:
    path, read = ALL_READERS[reader]
    stop = threading.Event()
    kind = {"feed": XML, "sitemap": XML, "wordpress": {"Content-Type": "application/json"}}[reader]

    def silent(request: BaseHTTPRequestHandler) -> Response:
        stop.wait(20)
        return Response(200, b"late", kind)

    def hop(request: BaseHTTPRequestHandler) -> Response:
        n = int(request.path.rsplit("/", 1)[-1].split("?")[0] or 0)
        return Response(302, b"", {"Location": f"/hop/{n + 1}"})

    responses: dict[str, Any] = {
        "huge": Response(200, b"<urlset>" + b" " * (2 * MB), kind),
        "endless": lambda request: Response(
            200, _endless(stop), {**kind, "Transfer-Encoding": "chunked"}
        ),
        "compressed-bomb": lambda request: Response(
            200, _gzip_bomb(), {**kind, "Content-Encoding": "gzip"}
        ),
        "trickle": lambda request: Response(
            200, _trickle(stop), {**kind, "Content-Length": "100000"}
        ),
        "silent": silent,
        "redirect-loop": Response(302, b"", {"Location": path}),
        "redirect-chain": Response(302, b"", {"Location": "/hop/0"}),
        "blocked": Response(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"}),
    }
    http_server.route(path, responses[case])
    for n in range(12):
        http_server.route(f"/hop/{n}", hop)
    _gzip_bomb()  # built before memory is measured
    settings: dict[str, Any] = {"fetch_max_bytes": MB, "fetch_timeout_s": 1.0}
    try:
        with loopback_client(**settings) as client:
            error = _bounded(lambda: read(client, http_server.url("")), seconds=10)
    finally:
        stop.set()

    message = _refused(error)
    assert reason in message, message


@pytest.mark.parametrize("reader", sorted(ALL_READERS))
def test_connection_refused(reader: str) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _, read = ALL_READERS[reader]
    with loopback_client() as client:
        error = _bounded(lambda: read(client, f"http://127.0.0.1:{port}"), seconds=10)

    assert "could not connect" in _refused(error)


@pytest.mark.parametrize("reader", sorted(READERS))
def test_comment_runs_cost_linear_time(
    server: LoopbackServer, fetcher: Client, reader: str
) -> None:
    # Many comments before the root (a backtracking pattern would take ages on these).
    body = b"<!-- -->" * 100_000 + b"<!--" * 1000
    url = server.route(f"/comments/{reader}", Response(200, body, XML))

    message = _refused(_bounded(lambda: READERS[reader](fetcher, url), seconds=5))

    assert "not well-formed" in message


def test_long_fields_cost_linear_time(server: LoopbackServer, fetcher: Client) -> None:
    # An author, title and category each hundreds of kilobytes long, built to make
    # backtracking patterns slow.
    long = "a@" * 200_000
    story = "<p>" + "Words of a story. " * 40 + "</p>" + "\n \n" * 50_000
    feed = f"""<?xml version="1.0"?><rss version="2.0"
xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T</title>
<item><title>{long}</title><link>https://feeds.example/long</link>
<author>{long} ({long})</author><category>{long}</category>
<content:encoded><![CDATA[{story}]]></content:encoded></item>
</channel></rss>""".encode()
    url = server.route("/long-fields", Response(200, feed, XML))

    listing: list[Listing] = []
    error = _bounded(lambda: listing.append(read_feed(fetcher, url)), seconds=10)

    assert error is None
    # A title that long is no headline: the page would be fetched instead.
    assert [e.extracted for e in listing[0].entries] == [None]


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("shape", ["deep", "wide-item", "many-items"])
def test_element_floods_stay_in_bounded_memory(
    server: LoopbackServer, fetcher: Client, reader: str, shape: str
) -> None:
    # Megabytes of elements: kept as a tree they would take hundreds of megabytes, and
    # feedparser would spend minutes on them.
    root = {
        "feed": (b"<rss><channel>", b"</channel></rss>"),
        "sitemap": (b"<urlset>", b"</urlset>"),
    }
    head, tail = root[reader]
    bodies = {
        "deep": head + b"<a>" * 1_000_000,
        "wide-item": head + b"<url>" + b"<loc>x</loc>" * 300_000 + b"</url>" + tail,
        "many-items": head + b"<url><loc>/</loc></url>" * 200_000 + tail,
    }
    reasons = {
        ("feed", "deep"): "nested over 256 deep",
        ("feed", "wide-item"): "over 100,000 elements",
        ("feed", "many-items"): "over 100,000 elements",
        ("sitemap", "deep"): "nested over 256 deep",
        ("sitemap", "wide-item"): "one item holds over 10000 elements",
        ("sitemap", "many-items"): "it lists over 50,000 URLs",
    }
    url = server.route(f"/flood/{reader}/{shape}", Response(200, bodies[shape], XML))

    error = _bounded(lambda: READERS[reader](fetcher, url), seconds=30)

    assert reasons[reader, shape] in _refused(error)


def test_sitemap_tree_entry_bound(http_server: LoopbackServer, fetcher: Client) -> None:
    urls = "".join(f"<url><loc>https://a.example/{i}</loc></url>" for i in range(300))
    for n in range(3):
        http_server.route(f"/s{n}.xml", Response(200, f"<urlset>{urls}</urlset>".encode(), XML))
    index = "".join(
        f"<sitemap><loc>{http_server.url(f'/s{n}.xml')}</loc></sitemap>" for n in range(3)
    )
    url = http_server.route(
        "/index.xml", Response(200, f"<sitemapindex>{index}</sitemapindex>".encode(), XML)
    )

    listing = read_sitemap(fetcher, url, max_entries=250)

    assert len(listing.entries) == 250 and not listing.complete


def _slowly(response: Response, seconds: float) -> Callable[[BaseHTTPRequestHandler], Response]:
    def handler(request: BaseHTTPRequestHandler) -> Response:
        time.sleep(seconds)
        return response

    return handler


def test_sitemap_tree_time_budget(http_server: LoopbackServer, fetcher: Client) -> None:
    # Ten slow child sitemaps: no new one is started once the budget is spent.
    urlset = Response(200, b"<urlset><url><loc>https://a.example/</loc></url></urlset>", XML)
    for n in range(10):
        http_server.route(f"/s{n}.xml", _slowly(urlset, 0.3))
    index = "".join(
        f"<sitemap><loc>{http_server.url(f'/s{n}.xml')}</loc></sitemap>" for n in range(10)
    )
    url = http_server.route(
        "/index.xml", Response(200, f"<sitemapindex>{index}</sitemapindex>".encode(), XML)
    )

    listing = read_sitemap(fetcher, url, max_seconds=0.5)

    assert not listing.complete
    assert len(http_server.requests) <= 4  # fewer on a loaded machine, never all


def test_wordpress_time_budget(http_server: LoopbackServer, fetcher: Client) -> None:
    site = wordpress_site(make_posts(50))
    http_server.route("/wp-json/wp/v2/posts", lambda request: (time.sleep(0.3), site(request))[1])

    listing = read_wordpress(fetcher, http_server.url("/"), per_page=5, max_seconds=0.5)

    assert not listing.complete
    assert len(http_server.requests) <= 4  # fewer on a loaded machine, never all
    assert len(listing.entries) == 5 * len(http_server.requests)
