"""Sitemaps: ``<urlset>``, ``<sitemapindex>`` (followed recursively), Google News and
plain-text sitemaps (one URL per line).

Each sitemap is accepted by defusedxml (no DTD, no entities, no external references)
before it is read; gzip files (``.xml.gz``) are inflated with a bound. Entries carry only
the page URL and its date (the news ``publication_date``, else ``lastmod``): their pages
are fetched and extracted by the caller. Entries come newest first.
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

from republish._netbody import size_text
from republish._netguard import display_url
from republish.ingest.sources import Entry, Listing, SourceError
from republish.ingest.sources._read import (
    absolute_link,
    date,
    fetch,
    gunzip,
    local_name,
    xml_items,
)
from republish.net import Client
from republish.urls import InvalidURL, check_http_url

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_ENTRIES",
    "MAX_SECONDS",
    "MAX_SITEMAPS",
    "MAX_URLS",
    "SITEMAP_TYPES",
    "read_sitemap",
]

log = logging.getLogger("republish.ingest.sources")

#: Sitemaps fetched at most in one read (the first one included).
MAX_SITEMAPS = 50
#: Index levels followed at most below the first sitemap.
MAX_DEPTH = 3
#: No further sitemap is fetched once a read has taken this long (each fetch has its own
#: ``fetch_timeout_s``): a tree of slow sitemaps cannot hold a poller for long.
MAX_SECONDS = 120.0
#: Most URLs one sitemap may list (the sitemap protocol's own limit); more is refused.
MAX_URLS = 50_000
#: Most pages one read lists (over all sitemaps); the listing is incomplete beyond.
MAX_ENTRIES = 250_000
#: Largest sitemap once a gzip file is inflated (the sitemap protocol's own limit is
#: 50 MB); the download itself is bounded by ``fetch_max_bytes``.
MAX_BYTES = 50 * 1024 * 1024
#: Media types a sitemap may be served as (XML, gzip files, and loosely labelled ones).
SITEMAP_TYPES = (
    "application/xml",
    "text/xml",
    "application/gzip",
    "application/x-gzip",
    "application/octet-stream",
    "text/plain",
)
_GZIP_MAGIC = b"\x1f\x8b"
_OLDEST = datetime.min.replace(tzinfo=UTC)
_FULL_URL = re.compile(r"(?i)https?://\S+")


def read_sitemap(
    client: Client,
    url: str,
    *,
    limit: int | None = None,
    max_sitemaps: int = MAX_SITEMAPS,
    max_depth: int = MAX_DEPTH,
    max_bytes: int = MAX_BYTES,
    max_entries: int = MAX_ENTRIES,
    max_seconds: float = MAX_SECONDS,
) -> Listing:
    """Read the sitemap (or sitemap index) at ``url``: page URLs newest first.

    Child sitemaps of an index are followed breadth first, the most recently changed
    (``<lastmod>``) first, at most ``max_depth`` levels and ``max_sitemaps`` fetches,
    each URL once (so a loop of indexes ends), none started after ``max_seconds``; at
    most ``max_entries`` pages are listed.
    The listing is ``complete`` when the whole tree was read, nothing was cut by a bound
    or ``limit`` and it is not only news sitemaps (which list just the last two days).

    Raises :class:`SourceError` (one line) when the first sitemap cannot be fetched or
    read; a child that fails is skipped (logged) and makes the listing incomplete.
    """
    try:
        start = check_http_url(url)
    except InvalidURL as exc:
        raise SourceError(str(exc)) from None
    queue: deque[tuple[str, int]] = deque([(start, 0)])
    seen = {start}
    found: dict[str, Entry] = {}
    fetched = 0
    whole = True  # every sitemap of the tree was read
    full_list = False  # at least one sitemap lists pages beyond the news window
    give_up_at = time.monotonic() + max_seconds
    while queue:
        current, depth = queue.popleft()
        if fetched >= max(max_sitemaps, 1) or (fetched and time.monotonic() > give_up_at):
            whole = False
            break
        fetched += 1
        try:
            sitemap = _read_one(client, current, max_bytes)
        except SourceError as exc:
            if depth == 0:
                raise
            log.warning("sitemap skipped: %s", exc)
            whole = False
            continue
        for child in sitemap.children:
            if child in seen:
                continue
            seen.add(child)
            if depth + 1 > max_depth:
                whole = False
                continue
            queue.append((child, depth + 1))
        for entry in sitemap.entries:
            known = found.get(entry.url)
            if known is None and len(found) >= max_entries:
                whole = False  # enough for one read: the rest waits for the next
                break
            if known is None or _newer(entry, known):
                found[entry.url] = entry
        full_list = full_list or (sitemap.is_urlset and not sitemap.news)
    entries = sorted(found.values(), key=lambda e: e.modified_at or _OLDEST, reverse=True)
    cut = limit is not None and len(entries) > max(limit, 0)
    if limit is not None:
        entries = entries[: max(limit, 0)]
    return Listing(entries=tuple(entries), complete=whole and full_list and not cut)


def _newer(entry: Entry, known: Entry) -> bool:
    if entry.modified_at is None:
        return False
    return known.modified_at is None or entry.modified_at > known.modified_at


@dataclass
class _Sitemap:
    """What one sitemap lists: child sitemaps (an index) or pages (a urlset)."""

    is_urlset: bool
    children: list[str] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    news: bool = False  # a Google News sitemap (its pages carry <news:news>)


def _read_one(client: Client, url: str, max_bytes: int) -> _Sitemap:
    """Fetch and read one sitemap, whole or not at all (a SourceError)."""
    result = fetch(client, url, accept=SITEMAP_TYPES, what="a sitemap")
    where = display_url(result.url)
    content = result.content
    if content[:2] == _GZIP_MAGIC:  # a gzip file (the client already undid Content-Encoding)
        content = gunzip(content, max_bytes, where)
    elif len(content) > max_bytes:
        raise SourceError(f"{where} is larger than the {size_text(max_bytes)} limit")
    if result.content_type == "text/plain" and not content.lstrip()[:1] == b"<":
        return _text_sitemap(content, result.url, where)
    kind, items = xml_items(content, where, "a sitemap")
    if kind == "sitemapindex":
        children: list[tuple[datetime | None, str]] = []
        for item in items:
            if local_name(item) == "sitemap":
                link = absolute_link(_text(item, "loc"), result.url)
                if link is not None:
                    children.append((date(_text(item, "lastmod")), link))
        # Most recently changed first, so the sitemap bound keeps the newest stories.
        children.sort(key=lambda child: child[0] or _OLDEST, reverse=True)
        return _Sitemap(is_urlset=False, children=[link for _, link in children])
    if kind == "urlset":
        urlset = _Sitemap(is_urlset=True)
        for count, item in enumerate(items, 1):
            if count > MAX_URLS:
                raise SourceError(f"refused {where}: it lists over {MAX_URLS:,} URLs")
            if local_name(item) == "url":
                entry, is_news = _url(item, result.url)
                urlset.news = urlset.news or is_news
                if entry is not None:
                    urlset.entries.append(entry)
        return urlset
    raise SourceError(f"not a sitemap: {where} is XML with a <{kind}> root")


def _text_sitemap(content: bytes, base: str, where: str) -> _Sitemap:
    """A text sitemap: one page URL per line, no dates (the protocol's plain-text form)."""
    lines = [line.strip() for line in content.decode("utf-8", errors="replace").splitlines()]
    if sum(1 for line in lines if line) > MAX_URLS:
        raise SourceError(f"refused {where}: it lists over {MAX_URLS:,} URLs")
    # Full URLs only (as the protocol asks): a line of words is no relative link.
    links = [
        absolute_link(line, base) if _FULL_URL.fullmatch(line) else None for line in lines if line
    ]
    entries = [Entry(url=link) for link in links if link is not None]
    if not entries or len(entries) < len(links) / 2:
        raise SourceError(f"not a sitemap: {where} is text, but not a list of page URLs")
    return _Sitemap(is_urlset=True, entries=entries)


def _text(element: Element | None, name: str) -> str:
    for child in element if element is not None else ():
        if local_name(child) == name:
            return (child.text or "").strip()
    return ""


def _child(element: Element, name: str) -> Element | None:
    for child in element:
        if local_name(child) == name:
            return child
    return None


def _url(item: Element, base: str) -> tuple[Entry | None, bool]:
    """The entry of one ``<url>`` (None without a usable location), and whether it is a
    news sitemap entry."""
    news = _child(item, "news")
    link = absolute_link(_text(item, "loc"), base)
    if link is None:
        return None, news is not None
    published = date(_text(news, "publication_date"))
    modified = date(_text(item, "lastmod"))
    when = max((d for d in (published, modified) if d), default=None)
    return Entry(url=link, modified_at=when), news is not None
