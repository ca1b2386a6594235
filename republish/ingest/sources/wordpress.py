"""The WordPress REST API: ``/wp-json/wp/v2/posts`` with authors and terms embedded.

Posts carry their whole content, so every entry is a story as it is (cleaned by
:func:`republish.clean.clean_html`). Authors come from the co-author fields plugins add
(``coauthors`` from Co-Authors Plus, ``authors`` from PublishPress Authors) or else from
``_embedded.author``; the first category gives the section, tags give the tags. Pages
are read most recently modified first, following ``X-WP-TotalPages``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from republish._netguard import display_url
from republish.ingest._bylines import split_byline, unique
from republish.ingest.sources import Entry, Listing, SourceError
from republish.ingest.sources._read import MAX_HEADLINE, MAX_TERM, absolute_link, date, plain, story
from republish.net import Client, FetchError, HTTPStatusError, TooLarge, UnsupportedContent
from republish.urls import InvalidURL, check_http_url

__all__ = ["MAX_PAGES", "MAX_SECONDS", "posts_endpoint", "read_wordpress"]

#: Pages read at most in one run (``per_page`` posts each, 100 by default).
MAX_PAGES = 50
#: No further page is fetched once a read has taken this long (each fetch has its own
#: ``fetch_timeout_s``): a slow site cannot hold a poller for long.
MAX_SECONDS = 120.0
JSON_TYPES = ("application/json",)
#: Statuses that mean a post once published is no longer public: its entry is removed.
_GONE = frozenset({"draft", "pending", "private", "trash"})
# Smallest page size tried when pages are too large to fetch.
_SMALLEST_PAGE = 4
# Category WordPress gives every post nobody filed: no section.
_NO_SECTION = frozenset({"uncategorized"})


def posts_endpoint(site_url: str) -> str:
    """The posts endpoint for a site root (``https://news.example``), its API root
    (``.../wp-json``) or the endpoint itself; raises :class:`SourceError` for a bad URL."""
    try:
        parts = urlsplit(check_http_url(site_url))
    except InvalidURL as exc:
        raise SourceError(str(exc)) from None
    path = parts.path
    marker = path.find("/wp-json")
    base = path[:marker] if marker >= 0 else path
    endpoint = base.rstrip("/") + "/wp-json/wp/v2/posts"
    return urlunsplit((parts.scheme, parts.netloc, endpoint, "", ""))


def read_wordpress(
    client: Client,
    site_url: str,
    *,
    modified_after: datetime | None = None,
    per_page: int = 100,
    max_pages: int = MAX_PAGES,
    max_seconds: float = MAX_SECONDS,
) -> Listing:
    """Read the posts of the WordPress site at ``site_url``, most recently modified first.

    ``modified_after`` asks only for posts changed since then (WordPress 5.7+). At most
    ``max_pages`` pages are read, none started after ``max_seconds``. The listing is
    ``complete`` only when every page was read without that filter. Posts whose status
    is not ``publish`` (draft, pending, private, trash) and password-protected posts are
    entries with ``removed=True``; scheduled (``future``) posts are skipped.

    Raises :class:`SourceError` (one line) when the API cannot be read or is not one.
    """
    endpoint = posts_endpoint(site_url)
    per_page = min(max(per_page, 1), 100)  # WordPress refuses more than 100
    query: dict[str, str] = {"_embed": "author,wp:term", "orderby": "modified", "order": "desc"}
    if modified_after is not None:
        # With its offset: WordPress compares against the site's local time otherwise.
        stamp = modified_after if modified_after.tzinfo else modified_after.replace(tzinfo=UTC)
        query["modified_after"] = stamp.astimezone(UTC).isoformat(timespec="seconds")
    give_up_at = time.monotonic() + max_seconds
    # A page of 100 long stories can pass the fetch size limit: read again with smaller
    # pages (as many posts in all) before giving up.
    size = per_page
    while True:
        try:
            pages = max(max_pages, 1) * per_page // size
            entries, read_all = _read_pages(
                client, endpoint, {**query, "per_page": str(size)}, pages, give_up_at
            )
            break
        except TooLarge as exc:
            if size <= _SMALLEST_PAGE:
                raise SourceError(f"{exc} (even with {size} posts a page)") from None
            size = max(size // 5, _SMALLEST_PAGE)
    oldest = datetime.min.replace(tzinfo=UTC)
    ordered = sorted(entries.values(), key=lambda e: e.modified_at or oldest, reverse=True)
    return Listing(entries=tuple(ordered), complete=read_all and modified_after is None)


def _read_pages(
    client: Client, endpoint: str, query: Mapping[str, str], max_pages: int, give_up_at: float
) -> tuple[dict[str, Entry], bool]:
    """Entries of up to ``max_pages`` pages (none started after ``give_up_at``), and
    whether the last page was reached."""
    entries: dict[str, Entry] = {}
    total_pages: int | None = None  # from X-WP-TotalPages, once a page said so
    for page in range(1, max_pages + 1):
        if page > 1 and time.monotonic() > give_up_at:
            break
        url = f"{endpoint}?{urlencode({**query, 'page': str(page)})}"
        posts, header = _page(client, url, past_the_end_ok=page > 1 and total_pages is None)
        for post in posts:
            entry = _entry(post)
            if entry is not None and entry.url not in entries:
                entries[entry.url] = entry
        if header is not None:
            total_pages = header
        # Done when the header says this was the last page or, without the header (a
        # proxy dropped it), when a page comes back empty or past the end.
        if (total_pages is not None and page >= total_pages) or not posts:
            return entries, True
    return entries, False


def _page(
    client: Client, url: str, *, past_the_end_ok: bool
) -> tuple[list[Mapping[str, Any]], int | None]:
    """The posts of one page and its ``X-WP-TotalPages``; no posts past the last page."""
    try:
        result = client.fetch(url, accept=JSON_TYPES)
    except HTTPStatusError as exc:
        # WordPress answers 400 rest_post_invalid_page_number past the last page.
        if past_the_end_ok and exc.status == 400:
            return [], None
        raise SourceError(str(exc)) from None
    except UnsupportedContent as exc:
        raise SourceError(f"not a WordPress posts list: {exc}") from None
    except TooLarge:
        raise  # read_wordpress retries with smaller pages
    except FetchError as exc:
        raise SourceError(str(exc)) from None
    header = (result.headers.get("x-wp-totalpages") or "").strip()
    return _posts(result.content, display_url(url)), int(header) if header.isdigit() else None


def _posts(content: bytes, where: str) -> list[Mapping[str, Any]]:
    try:
        data = json.loads(content)
    except (ValueError, RecursionError):
        raise SourceError(f"not a WordPress posts list: {where} is not JSON") from None
    if isinstance(data, dict) and isinstance(data.get("code"), str):
        message = plain(str(data.get("message", "")))[:200]
        raise SourceError(f"{where}: WordPress answered {data['code']}: {message}".rstrip(": "))
    if not isinstance(data, list) or not all(isinstance(post, dict) for post in data):
        raise SourceError(f"not a WordPress posts list: {where} is not a list of posts")
    return data


def _rendered(post: Mapping[str, Any], key: str) -> str:
    value = post.get(key)
    if isinstance(value, dict):
        value = value.get("rendered", "")
    return value if isinstance(value, str) else ""


def _gmt(value: object) -> datetime | None:
    # *_gmt fields carry no zone: they are UTC by definition (and naive means UTC).
    return date(value)


def _entry(post: Mapping[str, Any]) -> Entry | None:
    link = absolute_link(post.get("link"), "")
    if link is None:
        return None
    # The site's local time only when the UTC one is missing (better than no date).
    modified = _gmt(post.get("modified_gmt")) or _gmt(post.get("modified"))
    status = post.get("status", "publish")
    if not isinstance(status, str):
        return None
    content = post.get("content")
    protected = isinstance(content, dict) and bool(content.get("protected"))
    if status in _GONE or protected:
        return Entry(url=link, modified_at=modified, removed=True)
    if status != "publish":  # future (scheduled) and anything unknown: not public yet
        return None
    headline = plain(_rendered(post, "title"))
    body = _rendered(post, "content")
    if not headline or len(headline) > MAX_HEADLINE or not body.strip():
        return Entry(url=link, modified_at=modified)  # the page has to be extracted
    published = _gmt(post.get("date_gmt")) or _gmt(post.get("date"))
    categories, tags = _terms(post)
    section = next(
        (c for c in categories if c.casefold() not in _NO_SECTION and len(c) <= MAX_TERM), ""
    )
    extracted = story(
        url=link,
        headline=headline,
        body_html=body,
        dek=_dek(_rendered(post, "excerpt")),
        bylines=_authors(post),
        published_at=published,
        updated_at=modified if modified != published else None,
        section=section,
        tags=tags,
    )
    return Entry(url=link, extracted=extracted, modified_at=modified)


def _dek(excerpt: str) -> str:
    """A hand-written excerpt is a dek; WordPress's automatic one ends in "[…]"."""
    text = plain(excerpt)
    if not text or len(text) > 500 or text.endswith(("[\u2026]", "\u2026", "[...]")):
        return ""
    return text


def _names(items: object, *keys: str) -> list[str]:
    names: list[str] = []
    if not isinstance(items, list):
        return names
    for item in items:
        if isinstance(item, dict):
            for key in keys:
                value = item.get(key)
                if isinstance(value, str) and value.strip():
                    names.extend(split_byline(plain(value)))
                    break
    return names


def _authors(post: Mapping[str, Any]) -> tuple[str, ...]:
    embedded = post.get("_embedded")
    embedded = embedded if isinstance(embedded, dict) else {}
    for field in ("coauthors", "authors"):  # Co-Authors Plus, PublishPress Authors
        names = _names(post.get(field), "display_name", "name")
        names = names or _names(embedded.get(field), "display_name", "name")
        if names:
            return unique(names)
    return unique(_names(embedded.get("author"), "name"))


def _terms(post: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Category and tag names from ``_embedded["wp:term"]`` (lists of terms by taxonomy)."""
    embedded = post.get("_embedded")
    groups = embedded.get("wp:term") if isinstance(embedded, dict) else None
    categories: list[str] = []
    tags: list[str] = []
    for group in groups if isinstance(groups, list) else ():
        for term in group if isinstance(group, list) else ():
            if not isinstance(term, dict) or not isinstance(term.get("name"), str):
                continue
            name = plain(term["name"])
            if term.get("taxonomy") == "category":
                categories.append(name)
            elif term.get("taxonomy") == "post_tag":
                tags.append(name)
    return unique(categories), unique(tags)
