"""Register sources and poll the ones that are due: ``republish source``, ``watch``, and
the in-process scheduler under ``republish serve``."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from republish import net
from republish.config import Settings
from republish.ingest.poll import PollSummary, poll_source
from republish.ingest.sources import SOURCE_KINDS, SourceError
from republish.ingest.sources.wordpress import posts_endpoint
from republish.models import Source
from republish.periodic import Periodic, error_line
from republish.store import publishers as publisher_store
from republish.store import sources as source_store
from republish.store.db import Database
from republish.urls import InvalidURL, check_http_url

logger = logging.getLogger("republish.ingest")

DEFAULT_INTERVAL_S = 15 * 60
MIN_INTERVAL_S = 60
MAX_INTERVAL_S = 7 * 24 * 3600
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$", re.I)


class InvalidSource(ValueError):
    """A source cannot be registered as given; the message is one line for the user."""


def parse_interval(text: str) -> int:
    """Seconds in ``"90s"``, ``"15m"``, ``"2h"``, ``"1d"`` or ``"900"``; 1 minute to 7 days."""
    match = _INTERVAL.match(text)
    if match is None:
        raise InvalidSource(f"interval {text!r}: expected a number with s, m, h or d, e.g. 15m")
    seconds = int(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
    if not MIN_INTERVAL_S <= seconds <= MAX_INTERVAL_S:
        raise InvalidSource(f"interval {text!r}: must be between 1 minute and 7 days")
    return seconds


def format_interval(seconds: int) -> str:
    """``900`` -> ``"15m"`` (the largest unit that divides it)."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def check_source(kind: str, url: str) -> str:
    """The source URL to store, or :class:`InvalidSource` for an unknown kind or a bad URL."""
    if kind not in SOURCE_KINDS:
        raise InvalidSource(f"unknown source kind {kind!r}: use {', '.join(SOURCE_KINDS)}")
    try:
        url = check_http_url(url)
        net.parse_url(url)
    except (InvalidURL, net.FetchError) as exc:
        raise InvalidSource(str(exc)) from exc
    if kind == "wordpress":
        try:
            posts_endpoint(url)
        except SourceError as exc:
            raise InvalidSource(str(exc)) from exc
    return url


def add_source(
    db: Database,
    publisher_slug: str,
    kind: str,
    url: str,
    interval_s: int = DEFAULT_INTERVAL_S,
    now: datetime | None = None,
) -> Source:
    """Register a source for a publisher (due at once). Raises :class:`InvalidSource`,
    :class:`~republish.store.errors.NotFound` or ``Conflict``; nothing stored then."""
    url = check_source(kind, url)
    if not MIN_INTERVAL_S <= interval_s <= MAX_INTERVAL_S:
        raise InvalidSource("interval: must be between 1 minute and 7 days")
    with db.begin() as conn:
        publisher = publisher_store.get_publisher(conn, publisher_slug)
        assert publisher.id is not None
        return source_store.add_source(
            conn, publisher.id, kind, url, interval_s, now or datetime.now(UTC)
        )


#: Called after each poll with the source and its summary, or the one-line error.
Report = Callable[[Source, PollSummary | None, str | None], object]


def poll_due(
    db: Database,
    settings: Settings,
    *,
    publisher_id: int | None = None,
    concurrency: int = 1,
    report: Report | None = None,
    now: datetime | None = None,
) -> int:
    """Poll every source that is due (each claimed first, so two pollers never read the
    same one); return how many were polled. A failing source does not stop the others."""
    with db.begin() as conn:
        due = source_store.claim_due(conn, now or datetime.now(UTC), publisher_id=publisher_id)
    if not due:
        return 0

    def run(source: Source) -> None:
        summary: PollSummary | None = None
        error: str | None = None
        try:
            summary = poll_source(db, settings, source)
        except SourceError as exc:
            error = str(exc)
        except Exception as exc:  # a broken source (or a database outage) must not stop the rest
            error = error_line(exc)
            logger.warning("polling source %d failed: %s", source.id, error)
            try:
                with db.begin() as conn:
                    source_store.record_failure(conn, source.id, datetime.now(UTC), error)
            except Exception:  # the database itself is what failed: the log has it
                logger.debug("could not record the failure of source %d", source.id)
        if report is not None:
            report(source, summary, error)

    if concurrency <= 1 or len(due) == 1:
        for source in due:
            run(source)
    else:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="poll") as pool:
            list(pool.map(run, due))
    return len(due)


class SourceScheduler(Periodic):
    """Polls due sources in a background thread: ``start()`` ... ``stop()``.

    It checks for due sources every ``tick_s`` seconds; a failed poll is recorded on its
    source (``last_error``) and tried again at the source's next slot.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        concurrency: int = 2,
        tick_s: float = 5.0,
        report: Report | None = None,
    ) -> None:
        super().__init__("sources", tick_s, tick_first=True, tick_last=False)
        self.db = db
        self.settings = settings
        self.concurrency = concurrency
        self.report = report
        self.polled = 0

    def run_once(self) -> int:
        """Poll what is due now; the number of sources polled (0 when the pass failed)."""
        count = self.attempt(
            "source scheduler pass",
            lambda: poll_due(
                self.db, self.settings, concurrency=self.concurrency, report=self.report
            ),
            logger,
        )
        if count is None:
            return 0
        self.polled += count
        return count

    def tick(self) -> None:
        """One pass (see :meth:`run_once`)."""
        self.run_once()
