"""Where stories come from: feeds, the WordPress REST API and sitemaps.

Each source module has the same shape: a ``read_*`` function that takes a guarded
:class:`republish.net.Client` and the source URL, and returns a :class:`Listing` of
:class:`Entry` items, newest first. Reading stores nothing; :mod:`republish.ingest.poll`
turns a listing into stored stories.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from republish.models import Extracted

#: The kinds of source a publisher can register.
SourceKind = Literal["feed", "wordpress", "sitemap", "url"]
SOURCE_KINDS: tuple[SourceKind, ...] = ("feed", "wordpress", "sitemap", "url")


class SourceError(Exception):
    """A source could not be read; the message is one line for the user."""


@dataclass(frozen=True)
class Entry:
    """One story a source offers."""

    url: str  # the story's page URL (its canonical URL when the source names one)
    # The whole story when the source carries its content (full-content feed entry,
    # WordPress post); None when only the page has it and it must be fetched and extracted.
    extracted: Extracted | None = None
    modified_at: datetime | None = None  # when the source says the story last changed
    removed: bool = False  # the source itself says the story is gone


@dataclass(frozen=True)
class Listing:
    """What one read of a source found."""

    entries: tuple[Entry, ...] = ()  # newest first
    # True when the listing holds every story the source offers (all WordPress pages, a
    # whole sitemap tree): a story of this source missing from it may have been withdrawn.
    # A feed is a window on the newest stories, so its listings are never complete.
    complete: bool = False
    etag: str | None = None  # validators for the next conditional request
    last_modified: str | None = None
    not_modified: bool = False  # the source answered 304: nothing changed
