"""Poll one source: read its listing, store new and changed stories, withdraw removed ones.

:func:`poll_source` reads a source (feed, WordPress site, sitemap or single page) with the
validators of its last good read, then, entry by entry:

- an entry carrying its content is stored as it is; otherwise its page is fetched through
  the guarded client and extracted with the publisher's site profile, unless the stored
  story was read after the date the source gives for the entry;
- an entry whose URL (or canonical URL) is not on the publisher's domains is refused;
- a changed story becomes a new revision; a withdrawn story that is listed again is
  offered again;
- an entry the source marks as removed withdraws its story. When the listing is complete
  (every story the source offers), a story this source listed before and no longer lists
  is fetched again and withdrawn only if its page answers 404 or 410. A single-page
  source whose page answers 404 or 410 withdraws its story.

A source that cannot be read keeps its validators and records the error; nothing else
is stored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from republish import net
from republish.config import Settings
from republish.ingest.run import PAGE_TYPES, IngestError, extract_page, one_line, store_many
from republish.ingest.sources import Entry, Listing, SourceError
from republish.ingest.sources._read import conditional_headers, validators
from republish.ingest.sources.feed import read_feed
from republish.ingest.sources.sitemap import read_sitemap
from republish.ingest.sources.wordpress import read_wordpress
from republish.models import Extracted, Publisher, Source, Story
from republish.store import publishers as publisher_store
from republish.store import sources as source_store
from republish.store import stories as story_store
from republish.store.db import Database
from republish.store.errors import NotFound
from republish.urls import host_of, on_domains, url_key

#: Called as ``progress(done, total)`` before the first entry and after each one.
Progress = Callable[[int, int], object]

#: The id of a source that is not registered (a one-off ``republish ingest --feed``).
UNSAVED = 0

_GONE = (404, 410)
#: Stories that came with their content are stored this many to a transaction.
BATCH = 50


@dataclass
class PollSummary:
    """What one poll of a source did."""

    kind: str
    url: str
    new: int = 0
    updated: int = 0  # a new revision was stored
    unchanged: int = 0
    restored: int = 0  # withdrawn stories listed again (also counted as new/updated/unchanged)
    withdrawn: int = 0
    not_modified: bool = False  # the source answered 304: nothing to read
    refused: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)

    def counts(self) -> dict[str, int]:
        """The counts, as stored in ``sources.last_result`` and printed by the CLI."""
        return {
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "restored": self.restored,
            "withdrawn": self.withdrawn,
            "refused": len(self.refused),
            "failed": len(self.failed),
            "not_modified": int(self.not_modified),
        }


def one_off_source(publisher_id: int, kind: str, url: str) -> Source:
    """A source that is read once and not registered (no validators, nothing recorded)."""
    return Source(
        id=UNSAVED,
        publisher_id=publisher_id,
        kind=kind,
        url=url,
        interval_s=0,
        next_poll_at=datetime.now(UTC),
    )


class _Poll:
    """One run over one listing (kept in an object so each step stays small)."""

    def __init__(
        self,
        db: Database,
        client: net.Client,
        source: Source,
        publisher: Publisher,
        summary: PollSummary,
    ) -> None:
        self.db = db
        self.client = client
        self.source = source
        self.publisher = publisher
        self.summary = summary
        self.registered = source.id != UNSAVED
        # Without configured domains, stories must be on the source's own host.
        self.domains = publisher.domains or (host_of(source.url),)
        self.seen: set[str] = set()  # ids of stories this listing still offers
        self.listed: set[str] = set()  # url keys of this listing's entries
        self.pending: list[tuple[Extracted, str]] = []  # stories waiting for their batch

    # -- lookups -------------------------------------------------------------------------

    def _stored(self, url: str) -> Story | None:
        assert self.publisher.id is not None
        with self.db.connect() as conn:
            return story_store.find_story(conn, self.publisher.id, url)

    def _read_after(self, story: Story, when: datetime) -> bool:
        """True when the stored story was read at or after ``when`` (no need to fetch)."""
        latest = [story.modified_at]
        if self.registered:
            with self.db.connect() as conn:
                latest.append(source_store.checked_at(conn, self.source.id, story.id))
        return any(moment is not None and moment >= when for moment in latest)

    # -- changes -------------------------------------------------------------------------

    def withdraw(self, story: Story, reason: str) -> None:
        if story.withdrawn_at is not None:
            return
        with self.db.begin() as conn:
            story_store.set_withdrawn(conn, story.id, reason, datetime.now(UTC))
        self.summary.withdrawn += 1

    def _save(self, entry_url: str, extracted: Extracted, *, batch: bool = False) -> None:
        """Store a story now, or (``batch``) with the next batch in one transaction."""
        if not extracted.canonical_url:
            extracted = dataclasses.replace(extracted, canonical_url=entry_url)
        if not on_domains(host_of(extracted.canonical_url), self.domains):
            self.summary.refused.append(
                (entry_url, f"canonical URL {extracted.canonical_url} is not on "
                 f"{self.publisher.slug}'s domains ({', '.join(self.domains)})")
            )  # fmt: skip
            return
        self.pending.append((extracted, entry_url))
        if not batch or len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Store the stories waiting for their batch."""
        if not self.pending:
            return
        items, self.pending = self.pending, []
        results = store_many(
            self.db,
            self.publisher,
            items,
            self.source.kind,
            source_id=self.source.id if self.registered else None,
        )
        for (_, entry_url), result in zip(items, results, strict=True):
            if isinstance(result, IngestError):
                self.summary.failed.append((entry_url, one_line(str(result))))
                continue
            self.seen.add(result.story.id)
            self.listed.add(url_key(result.story.canonical_url))
            setattr(self.summary, result.status, getattr(self.summary, result.status) + 1)
            self.summary.restored += result.restored

    def _fetch_page(self, url: str) -> net.FetchResult | int:
        """The page, or the status it answered when that says it is gone."""
        try:
            return self.client.fetch(url, accept=PAGE_TYPES)
        except net.HTTPStatusError as exc:
            if exc.status in _GONE:
                return exc.status
            raise

    # -- entries -------------------------------------------------------------------------

    def entry(self, entry: Entry) -> None:
        self.listed.add(url_key(entry.url))
        if not on_domains(host_of(entry.url), self.domains):
            self.summary.refused.append(
                (entry.url, f"not on {self.publisher.slug}'s domains ({', '.join(self.domains)})")
            )
            return
        if entry.extracted is not None and not entry.removed:
            self._save(entry.url, entry.extracted, batch=True)
            return
        self.flush()  # in listing order, and no transaction open while a page is fetched
        if entry.removed:
            story = self._stored(entry.url)
            if story is not None:
                self.withdraw(story, f"removed at its source ({self.source.url})")
            return
        story = self._stored(entry.url)
        if (
            story is not None
            and story.withdrawn_at is None
            and entry.modified_at is not None
            and self._read_after(story, entry.modified_at)
        ):
            self.seen.add(story.id)
            self.summary.unchanged += 1
            return
        try:
            page = self._fetch_page(entry.url)
        except net.FetchError as exc:
            self.summary.failed.append((entry.url, one_line(str(exc))))
            return
        if isinstance(page, int):
            if story is not None:
                self.withdraw(story, f"its page answered {page}")
            else:
                self.summary.failed.append((entry.url, f"the page answered {page}"))
            return
        self._save(entry.url, extract_page(page, self.publisher.site_profile))

    def missing(self) -> None:
        """After a complete listing: withdraw this source's stories whose pages are gone."""
        with self.db.connect() as conn:
            known = source_store.source_stories(conn, self.source.id)
        for story_id, canonical_url in known:
            if story_id in self.seen or url_key(canonical_url) in self.listed:
                continue
            with self.db.connect() as conn:
                story = story_store.get_story(conn, story_id)
            if story.withdrawn_at is not None:
                continue
            try:
                page = self._fetch_page(canonical_url)
            except net.FetchError:
                continue  # still there, or unreachable for now: not proof it is gone
            if isinstance(page, int):
                self.withdraw(story, f"no longer listed by its source; its page answered {page}")

    def mark_seen(self) -> None:
        if not self.registered or not self.seen:
            return
        with self.db.begin() as conn:
            source_store.mark_seen(conn, self.source.id, self.seen, datetime.now(UTC))


def _read_page_source(client: net.Client, source: Source, poll: _Poll) -> Listing | None:
    """A single-page source: fetched conditionally; None when it is gone (handled here)."""
    headers = conditional_headers(source.etag, source.last_modified)
    try:
        page = client.fetch(source.url, accept=PAGE_TYPES, headers=headers)
    except net.HTTPStatusError as exc:
        if exc.status not in _GONE:
            raise SourceError(one_line(str(exc))) from exc
        story = poll._stored(source.url)
        gone = [story] if story is not None else []
        if poll.registered:
            with poll.db.connect() as conn:
                gone += [
                    story_store.get_story(conn, story_id)
                    for story_id, _ in source_store.source_stories(conn, source.id)
                ]
        if not gone:  # nothing of ours was ever there: a wrong address, not a withdrawal
            raise SourceError(one_line(str(exc))) from exc
        for item in {found.id: found for found in gone}.values():
            poll.withdraw(item, f"its page answered {exc.status}")
        return None
    except net.FetchError as exc:
        raise SourceError(one_line(str(exc))) from exc
    answer = validators(page, source.etag, source.last_modified)
    if not answer.not_modified:
        poll._save(source.url, extract_page(page, poll.publisher.site_profile))
    return answer


def _read(client: net.Client, source: Source) -> Listing:
    if source.kind == "feed":
        return read_feed(client, source.url, etag=source.etag, last_modified=source.last_modified)
    if source.kind == "wordpress":
        # Every post, every time: only a complete listing tells which posts were removed.
        return read_wordpress(client, source.url)
    if source.kind == "sitemap":
        return read_sitemap(client, source.url)
    raise SourceError(f"unknown source kind {source.kind!r}")


def poll_source(
    db: Database,
    settings: Settings,
    source: Source,
    *,
    progress: Progress | None = None,
    client: net.Client | None = None,
) -> PollSummary:
    """Read ``source`` once and store what it offers (see the module docstring).

    Raises :class:`SourceError` (one line) when the source itself cannot be read; a
    registered source then keeps its validators and records the error as ``last_error``.
    Entries that fail are listed in the summary's ``failed`` and do not stop the run.
    """
    with db.connect() as conn:
        try:
            publisher = publisher_store.get_publisher_by_id(conn, source.publisher_id)
        except NotFound:
            raise SourceError(f"no publisher with id {source.publisher_id}") from None
    summary = PollSummary(kind=source.kind, url=source.url)
    own_client = client is None
    http = client if client is not None else net.Client(settings)
    try:
        poll = _Poll(db, http, source, publisher, summary)
        try:
            if source.kind == "url":
                if progress is not None:
                    progress(0, 1)
                listing = _read_page_source(http, source, poll)
                if progress is not None:
                    progress(1, 1)
            else:
                listing = _read(http, source)
        except net.FetchError as exc:  # a reader that let one through: the same failure
            _record_failure(db, source, one_line(str(exc)))
            raise SourceError(one_line(str(exc))) from exc
        except SourceError as exc:
            _record_failure(db, source, one_line(str(exc)))
            raise
        if listing is not None and listing.not_modified:
            summary.not_modified = True
        elif listing is not None and source.kind != "url":
            total = len(listing.entries)
            if progress is not None:
                progress(0, total)
            for done, entry in enumerate(listing.entries, 1):
                poll.entry(entry)
                if progress is not None:
                    progress(done, total)
            poll.flush()
            poll.mark_seen()
            if listing.complete and poll.registered:
                poll.missing()
        else:
            poll.mark_seen()
    finally:
        if own_client:
            http.close()
    _record_success(db, source, summary, listing)
    return summary


def _record_failure(db: Database, source: Source, error: str) -> None:
    if source.id == UNSAVED:
        return
    with db.begin() as conn:
        source_store.record_failure(conn, source.id, datetime.now(UTC), error)


def _record_success(
    db: Database, source: Source, summary: PollSummary, listing: Listing | None
) -> None:
    if source.id == UNSAVED:
        return
    etag, last_modified = source.etag, source.last_modified
    # Entries that failed are read again next time: the old validators stay until a run
    # has stored everything the listing offered.
    if listing is not None and not summary.failed:
        etag, last_modified = listing.etag, listing.last_modified
    with db.begin() as conn:
        source_store.record_success(
            conn,
            source.id,
            datetime.now(UTC),
            summary.counts(),
            etag=etag,
            last_modified=last_modified,
        )
