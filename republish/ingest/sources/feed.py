"""RSS (0.9x, 1.0/RDF, 2.0) and Atom feeds.

A feed is fetched with the validators of the last read (``If-None-Match`` /
``If-Modified-Since``); a 304 answer is ``Listing(not_modified=True)``. The body must be
accepted by defusedxml (no DTD, no entities, no external references) before feedparser
sees it, and feedparser is handed the bytes as an in-memory stream only: given a URL it
would fetch it, and given bytes that name a file it would open that file. Entries with
their full content (``content:encoded``, Atom ``<content>``) become stories as they are,
cleaned by :func:`republish.clean.clean_html`; summary-only entries carry no content and
their page is fetched and extracted by the caller.
"""

from __future__ import annotations

import dataclasses
import html
import io
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser

from republish._netguard import display_url as _display_url
from republish.ingest._bylines import split_byline, unique
from republish.ingest.sources import Entry, Listing, SourceError
from republish.ingest.sources._read import (
    MAX_HEADLINE,
    MAX_TERM,
    absolute_link,
    accept_xml,
    conditional_headers,
    fetch,
    plain,
    story,
    validators,
)
from republish.net import Client

__all__ = ["FEED_TYPES", "FULL_CONTENT_MIN_CHARS", "read_feed"]

#: Media types a feed may be served as (servers label feeds loosely; HTML and JSON are not).
FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
    "text/plain",
    "application/octet-stream",
)
#: An entry's content is the whole story when its text is at least this long; shorter
#: content is a teaser, and the page is fetched instead.
FULL_CONTENT_MIN_CHARS = 400
#: Root elements of the feed formats: RSS 0.9x/2.0, RSS 0.90/1.0 (RDF), Atom.
_FEED_ROOTS = frozenset({"rss", "RDF", "feed"})
# RSS 2.0 <author>: "desk@news.example (Ana Ruiz)".
_EMAIL_NAME = re.compile(r"^\s*\S+@\S+\s*\((.+)\)\s*$")
_MAX_BYLINE = 300
_EMAIL = re.compile(r"^\s*\S+@\S+\s*$")
_PARAGRAPHS = re.compile(r"\n\s*\n")


def read_feed(
    client: Client,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    limit: int | None = None,
) -> Listing:
    """Read the feed at ``url``: its entries newest first, at most ``limit`` of them.

    ``etag`` / ``last_modified`` are the validators a previous :class:`Listing` returned;
    when the server answers 304 the listing is empty with ``not_modified=True``. Entries
    whose link is not an absolute http(s) URL (after resolving against the feed URL) are
    skipped. Feed listings are never ``complete``: a feed is a window on the newest stories.

    Raises :class:`SourceError` (one line) when the feed cannot be fetched, is not a feed,
    or is refused (DTD, entities, external references, malformed XML).
    """
    headers = conditional_headers(etag, last_modified)
    result = fetch(client, url, accept=FEED_TYPES, what="a feed", headers=headers)
    answer = validators(result, etag, last_modified)
    if answer.not_modified:
        return answer
    where = _display_url(result.url)
    # The whole document is accepted before feedparser sees any of it.
    root = accept_xml(result.content, where, "a feed")
    if root not in _FEED_ROOTS:
        raise SourceError(f"not a feed: {where} is XML with a <{root}> root")
    entries = parse_feed(result.content, result.url)
    if limit is not None:
        entries = entries[: max(limit, 0)]
    return dataclasses.replace(answer, entries=tuple(entries))


def parse_feed(
    content: bytes,
    feed_url: str,
    *,
    min_chars: int = FULL_CONTENT_MIN_CHARS,
) -> list[Entry]:
    """Entries of a feed document that defusedxml has accepted, newest first.

    Pure: ``content`` goes to feedparser as an in-memory stream, never as a URL or path.
    Entry content whose text is shorter than ``min_chars`` counts as a summary.

    feedparser is told the document is ``application/xml`` whatever the server said, so
    that it decodes the bytes as defusedxml did (BOM, then XML declaration, else UTF-8)
    and never reads, under a charset from the HTTP header, other text than was accepted.
    """
    response_headers = {"content-location": feed_url, "content-type": "application/xml"}
    try:
        parsed = feedparser.parse(
            io.BytesIO(content),
            response_headers=response_headers,
            resolve_relative_uris=False,
            sanitize_html=False,
        )
    except Exception as exc:  # a third-party parser on hostile input: never a crash
        where = _display_url(feed_url)
        raise SourceError(f"not a feed: {where} could not be read ({type(exc).__name__})") from None
    if not parsed.get("version") and not parsed.entries:
        raise SourceError(f"not a feed: {_display_url(feed_url)} has no RSS or Atom content")
    site_name = plain(str(parsed.feed.get("title", "")))
    found: list[tuple[datetime | None, Entry]] = []
    seen: set[str] = set()
    for item in parsed.entries:
        entry = _entry(item, feed_url, site_name, min_chars)
        if entry is None or entry[1].url in seen:
            continue
        seen.add(entry[1].url)
        found.append(entry)
    # Newest first; undated entries keep the feed's order, after the dated ones.
    oldest = datetime.min.replace(tzinfo=UTC)
    found.sort(key=lambda pair: pair[0] or oldest, reverse=True)
    return [entry for _, entry in found]


def _when(item: Mapping[str, Any], key: str) -> datetime | None:
    # dict.get: feedparser's own lookup maps a missing updated_parsed to published_parsed,
    # with a DeprecationWarning.
    value = dict.get(item, key) if isinstance(item, dict) else item.get(key)
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _entry(
    item: Mapping[str, Any], feed_url: str, site_name: str, min_chars: int
) -> tuple[datetime | None, Entry] | None:
    # FeedBurner's origLink is the story's own URL; its <link> a tracking redirect.
    link = absolute_link(item.get("feedburner_origlink"), feed_url) or absolute_link(
        item.get("link"), feed_url
    )
    if link is None:
        return None
    # RSS 1.0's dc:date and an Atom entry without <published> give only "updated": that
    # is the story's date then.
    updated = _when(item, "updated_parsed")
    published = _when(item, "published_parsed") or updated
    newest = max((d for d in (published, updated) if d), default=None)
    body = _full_content(item)
    headline = _headline(item)
    if body is None or not headline or len(headline) > MAX_HEADLINE:
        return newest, Entry(url=link, modified_at=newest)
    extracted = story(
        url=link,
        headline=headline,
        body_html=body,
        bylines=_bylines(item),
        published_at=published,
        updated_at=updated if updated != published else None,
        section=(_tags(item) or ("",))[0],
        tags=_tags(item),
        site_name=site_name,
    )
    if len(extracted.body_text) < min_chars:
        return newest, Entry(url=link, modified_at=newest)
    extracted = dataclasses.replace(extracted, dek=_dek(item, extracted.body_text))
    return newest, Entry(url=link, extracted=extracted, modified_at=newest)


def _headline(item: Mapping[str, Any]) -> str:
    detail = item.get("title_detail") or {}
    value = str(item.get("title", ""))
    if "html" in str(detail.get("type", "")):
        return plain(value)
    return " ".join(value.split())


def _full_content(item: Mapping[str, Any]) -> str | None:
    """The entry's content as HTML to clean, or None when it only has a summary."""
    best: str | None = None
    for content in item.get("content") or ():
        value = str(content.get("value", ""))
        kind = str(content.get("type", ""))
        if not value.strip():
            continue
        if "html" in kind:
            markup = value
        else:  # text/plain: paragraphs separated by blank lines
            markup = "".join(
                f"<p>{html.escape(block.strip())}</p>"
                for block in _PARAGRAPHS.split(value)
                if block.strip()
            )
        if best is None or len(markup) > len(best):
            best = markup
    return best


def _dek(item: Mapping[str, Any], body_text: str) -> str:
    """The summary as the story's dek, unless it is only the opening of the body."""
    summary = plain(str(item.get("summary", "")))
    if not summary or len(summary) > 500:
        return ""
    opening = " ".join(body_text[: len(summary) + 200].split())
    head = summary.rstrip(" .\u2026[]").removesuffix("[&hellip;]")[:60]
    return "" if opening.startswith(head) else summary


def _bylines(item: Mapping[str, Any]) -> tuple[str, ...]:
    names: list[str] = []
    raw = [str(author.get("name", "")) for author in item.get("authors") or () if author]
    if not raw and item.get("author"):
        raw = [str(item.get("author"))]
    for value in raw:
        if len(value) > _MAX_BYLINE:  # no byline is this long (and patterns stay cheap)
            continue
        match = _EMAIL_NAME.match(value)
        if match:
            value = match.group(1)
        elif _EMAIL.match(value):
            continue
        names.extend(split_byline(plain(value)))
    return unique(names)


def _tags(item: Mapping[str, Any]) -> tuple[str, ...]:
    terms = [
        plain(str(tag.get("label") or tag.get("term") or "")) for tag in item.get("tags") or ()
    ]
    return unique([term for term in terms if term and len(term) <= MAX_TERM])
