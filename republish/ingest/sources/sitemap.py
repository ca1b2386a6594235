"""Sitemaps: ``<urlset>``, ``<sitemapindex>`` (followed recursively) and Google News.

Each sitemap is accepted by defusedxml (no DTD, no entities, no external references)
before it is read; gzip files (``.xml.gz``) are inflated with a bound. Entries carry only
the page URL and its date (the news ``publication_date``, else ``lastmod``): their pages
are fetched and extracted by the caller. Entries come newest first.
"""

from __future__ import annotations

import logging
from collections import deque
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

from republish._netbody import size_text
from republish._netguard import display_url
from republish.ingest.sources import Entry, Listing, SourceError
from republish.ingest.sources._read import (
    absolute_link,
    accept_xml,
    date,
    fetch,
    gunzip,
    local_name,
)
from republish.net import Client
from republish.urls import InvalidURL, check_http_url

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_SITEMAPS", "SITEMAP_TYPES", "read_sitemap"]

log = logging.getLogger("republish.ingest.sources")

#: Sitemaps fetched at most in one read (the first one included).
MAX_SITEMAPS = 50
#: Index levels followed at most below the first sitemap.
MAX_DEPTH = 3
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


def read_sitemap(
    client: Client,
    url: str,
    *,
    limit: int | None = None,
    max_sitemaps: int = MAX_SITEMAPS,
    max_depth: int = MAX_DEPTH,
    max_bytes: int = MAX_BYTES,
) -> Listing:
    """Read the sitemap (or sitemap index) at ``url``: page URLs newest first.

    Child sitemaps of an index are followed breadth first, at most ``max_depth`` levels
    and ``max_sitemaps`` fetches, each URL once (so a loop of indexes ends). The listing
    is ``complete`` when the whole tree was read, nothing was cut by ``limit`` and it is
    not only news sitemaps (which list just the last two days).

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
    while queue:
        current, depth = queue.popleft()
        if fetched >= max(max_sitemaps, 1):
            whole = False
            break
        fetched += 1
        try:
            root = _load(client, current, max_bytes)
        except SourceError as exc:
            if depth == 0:
                raise
            log.warning("sitemap skipped: %s", exc)
            whole = False
            continue
        kind = local_name(root)
        if kind == "sitemapindex":
            for child in _children(root, current):
                if child in seen:
                    continue
                seen.add(child)
                if depth + 1 > max_depth:
                    whole = False
                    continue
                queue.append((child, depth + 1))
        elif kind == "urlset":
            news = False
            for entry, is_news in _urls(root, current):
                news = news or is_news
                known = found.get(entry.url)
                if known is None or _newer(entry, known):
                    found[entry.url] = entry
            full_list = full_list or not news
        else:
            message = f"not a sitemap: {display_url(current)} is XML with a <{kind}> root"
            if depth == 0:
                raise SourceError(message)
            log.warning("sitemap skipped: %s", message)
            whole = False
    oldest = datetime.min.replace(tzinfo=UTC)
    entries = sorted(found.values(), key=lambda e: e.modified_at or oldest, reverse=True)
    cut = limit is not None and len(entries) > max(limit, 0)
    if limit is not None:
        entries = entries[: max(limit, 0)]
    return Listing(entries=tuple(entries), complete=whole and full_list and not cut)


def _newer(entry: Entry, known: Entry) -> bool:
    if entry.modified_at is None:
        return False
    return known.modified_at is None or entry.modified_at > known.modified_at


def _load(client: Client, url: str, max_bytes: int) -> Element:
    result = fetch(client, url, accept=SITEMAP_TYPES, what="a sitemap")
    where = display_url(result.url)
    content = result.content
    if content[:2] == _GZIP_MAGIC:  # a gzip file (the client already undid Content-Encoding)
        content = gunzip(content, max_bytes, where)
    elif len(content) > max_bytes:
        raise SourceError(f"{where} is larger than the {size_text(max_bytes)} limit")
    return accept_xml(content, where, "a sitemap")


def _text(element: Element, name: str) -> str:
    for child in element:
        if local_name(child) == name:
            return (child.text or "").strip()
    return ""


def _child(element: Element, name: str) -> Element | None:
    for child in element:
        if local_name(child) == name:
            return child
    return None


def _children(root: Element, base: str) -> list[str]:
    children: list[str] = []
    for item in root:
        if local_name(item) == "sitemap":
            link = absolute_link(_text(item, "loc"), base)
            if link is not None:
                children.append(link)
    return children


def _urls(root: Element, base: str) -> list[tuple[Entry, bool]]:
    """Entries of a ``<urlset>``, each with whether it came from a news sitemap."""
    entries: list[tuple[Entry, bool]] = []
    for item in root:
        if local_name(item) != "url":
            continue
        link = absolute_link(_text(item, "loc"), base)
        if link is None:
            continue
        news = _child(item, "news")
        published = date(_text(news, "publication_date")) if news is not None else None
        modified = date(_text(item, "lastmod"))
        when = max((d for d in (published, modified) if d), default=None)
        entries.append((Entry(url=link, modified_at=when), news is not None))
    return entries
