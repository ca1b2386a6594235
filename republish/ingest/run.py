"""Ingest stories: fetch or read a page, extract it, store it, and decide on its policy."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from republish import net, policy
from republish.config import Settings
from republish.ingest.extract import extract
from republish.models import Decision, Extracted, Publisher, SiteProfile, Story
from republish.store import publishers as publisher_store
from republish.store import sources as source_store
from republish.store import stories as story_store
from republish.store.db import Database
from republish.store.errors import NotFound
from republish.urls import InvalidURL, check_http_url

#: Where an ingested story came from (kept on each revision).
SOURCES = ("url", "file", "push", "demo", "feed", "wordpress", "sitemap")
_MAX_FILE_BYTES = 10 * 1024 * 1024
_HTML_MARKER = re.compile(rb"<(!doctype\s+html|html|head|body|article|main|p|div|h1)\b", re.I)
#: Media types a story page may have; anything else (PDF, images, JSON) is refused.
PAGE_TYPES = ("text/html", "application/xhtml+xml")


class IngestError(Exception):
    """A page or document could not be ingested; the message is one line for the user."""


@dataclass(frozen=True)
class IngestResult:
    """A stored story, whether it was new, changed or unchanged, and its policy decision."""

    story: Story
    status: Literal["new", "updated", "unchanged"]
    decision: Decision
    restored: bool = False  # the story had been withdrawn and is offered again


def _publisher(db: Database, slug: str) -> Publisher:
    with db.connect() as conn:
        try:
            return publisher_store.get_publisher(conn, slug)
        except NotFound:
            raise IngestError(f"unknown publisher {slug!r}") from None


def _check_story(extracted: Extracted, where: str) -> None:
    if not extracted.headline.strip():
        raise IngestError(f"{where}: no headline found")
    if not extracted.body_text.strip():
        raise IngestError(f"{where}: no story text found")
    if not extracted.canonical_url:
        raise IngestError(f"{where}: no canonical URL found (give the page URL)")
    try:
        check_http_url(extracted.canonical_url)
    except InvalidURL as exc:
        raise IngestError(f"{where}: canonical URL: {exc}") from exc


def store_extracted(
    db: Database,
    publisher: Publisher,
    extracted: Extracted,
    source: str,
    where: str,
    *,
    source_id: int | None = None,
    now: datetime | None = None,
) -> IngestResult:
    """Check and store an extracted story for ``publisher`` in one transaction.

    A new version becomes a new revision; a withdrawn story that is found again is
    offered again. ``source_id`` records that this registered source listed the story.
    Raises :class:`IngestError` (nothing stored) when the story is unusable.
    """
    result = store_many(db, publisher, [(extracted, where)], source, source_id=source_id, now=now)
    if isinstance(result[0], IngestError):
        raise result[0]
    return result[0]


def store_many(
    db: Database,
    publisher: Publisher,
    items: Sequence[tuple[Extracted, str]],
    source: str,
    *,
    source_id: int | None = None,
    now: datetime | None = None,
) -> list[IngestResult | IngestError]:
    """Check and store several ``(extracted, where)`` stories in one transaction (one
    commit for a whole batch of feed entries): for each, its result or the
    :class:`IngestError` that kept it out."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    assert publisher.id is not None
    now = now or datetime.now(UTC)
    checked: list[Extracted | IngestError] = []
    for extracted, where in items:
        try:
            checked.append(_prepare(publisher, extracted, where))
        except IngestError as exc:
            checked.append(exc)
    results: list[IngestResult | IngestError] = []
    if not any(isinstance(item, Extracted) for item in checked):
        return [item for item in checked if isinstance(item, IngestError)]
    with db.begin() as conn:
        for item in checked:
            if isinstance(item, IngestError):
                results.append(item)
                continue
            story, status = story_store.save_story(conn, publisher.id, item, source, now)
            restored = story.withdrawn_at is not None
            if restored:
                story = story_store.set_withdrawn(conn, story.id, None, now)
            if source_id is not None:
                source_store.mark_seen(conn, source_id, [story.id], now, checked=True)
            results.append(
                IngestResult(
                    story=story,
                    status=status,
                    decision=policy.decide(story, publisher),
                    restored=restored,
                )
            )
    return results


def _prepare(publisher: Publisher, extracted: Extracted, where: str) -> Extracted:
    """``extracted`` checked (:class:`IngestError`), without an origin naming the publisher."""
    _check_story(extracted, where)
    origin = extracted.origin
    # A credit naming the publisher itself ("originally published by <us>") is no origin.
    if origin is not None and origin.name.casefold() in {
        publisher.name.casefold(),
        publisher.slug.casefold(),
    }:
        extracted = dataclasses.replace(extracted, origin=None)
    return extracted


def ingest_extracted(
    db: Database, publisher_slug: str, extracted: Extracted, source: str
) -> IngestResult:
    """Store an already extracted story (push API, demo) for the publisher ``publisher_slug``."""
    publisher = _publisher(db, publisher_slug)
    return store_extracted(db, publisher, extracted, source, extracted.canonical_url or "story")


def extract_url(
    settings: Settings, url: str, *, resolver: Any = None, profile: SiteProfile | None = None
) -> Extracted:
    """Fetch ``url`` through the guarded client and extract it (nothing stored)."""
    try:
        url = check_http_url(url)
    except InvalidURL as exc:
        raise IngestError(str(exc)) from exc
    try:
        page = net.fetch(url, settings, accept=PAGE_TYPES, resolver=resolver)
    except net.FetchError as exc:
        raise IngestError(one_line(str(exc))) from exc
    return extract_page(page, profile)


def extract_page(page: net.FetchResult, profile: SiteProfile | None = None) -> Extracted:
    """Extract a fetched story page (nothing stored), with the publisher's site profile."""
    # text() honours the charset of the Content-Type header, which the page may not repeat.
    return extract(page.text(), page.url, profile)


def extract_file(
    path: Path, url: str | None = None, *, profile: SiteProfile | None = None
) -> Extracted:
    """Extract the story in an HTML file (nothing stored); ``url`` is its canonical URL."""
    if url is not None:
        try:
            url = check_http_url(url)
        except InvalidURL as exc:
            raise IngestError(str(exc)) from exc
    extracted = extract(read_page_file(path), url or "", profile)
    if url:
        extracted = dataclasses.replace(extracted, canonical_url=url)
    return extracted


def ingest_url(
    db: Database, settings: Settings, publisher_slug: str, url: str, *, resolver: Any = None
) -> IngestResult:
    """Fetch ``url`` through the guarded client, extract the story and store it."""
    publisher = _publisher(db, publisher_slug)
    extracted = extract_url(settings, url, resolver=resolver, profile=publisher.site_profile)
    return store_extracted(db, publisher, extracted, "url", url)


def ingest_file(
    db: Database, publisher_slug: str, path: Path, url: str | None = None
) -> IngestResult:
    """Extract the story in an HTML file and store it.

    ``url`` is the story's canonical URL; without it the file must name one
    (``link rel=canonical`` or ``og:url``).
    """
    publisher = _publisher(db, publisher_slug)
    extracted = extract_file(path, url, profile=publisher.site_profile)
    return store_extracted(db, publisher, extracted, "file", str(path))


def read_page_file(path: Path) -> bytes:
    """The bytes of an HTML file, or :class:`IngestError` when it cannot be used."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise IngestError(f"{path}: not a file")
        if size > _MAX_FILE_BYTES:
            raise IngestError(f"{path}: larger than {_MAX_FILE_BYTES // (1024 * 1024)} MB")
        content = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"cannot read {path}: {exc.strerror or exc}") from exc
    head = content[:65536]
    if b"\x00" in head[:1024] or not _HTML_MARKER.search(head):
        raise IngestError(f"{path}: not an HTML page")
    return content


def one_line(text: str) -> str:
    """``text`` with its whitespace runs (newlines too) as single spaces."""
    return " ".join(text.split())
