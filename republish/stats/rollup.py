"""Roll the hit log up into summary tables, exactly once.

Each pass reads every segment from its stored position, aggregates the complete lines in
memory, and in ONE transaction adds the counts and advances the position. A crash before
the commit leaves both untouched (the hits are read again); after it, both are done. Two
rollups racing on one segment cannot both commit (see ``advance_position``).
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from republish.hits import DropReason, HitRecord, Verdict, read_records
from republish.store import hits as store
from republish.store.db import Database
from republish.urls import host_of, registrable_domain

logger = logging.getLogger("republish.stats")

OPEN_SUFFIX = ".open"
SEALED_SUFFIX = ".seg"
UNKNOWN_SITE = "unknown"
CHUNK_BYTES = 8 * 1024 * 1024


@dataclass
class RollupResult:
    """What one pass did."""

    hits: int = 0
    damaged: int = 0
    segments_read: int = 0
    segments_removed: int = 0
    new_republishers: list[tuple[str, str]] = field(default_factory=list)


def _segments(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if p.suffix in {OPEN_SUFFIX, SEALED_SUFFIX}]
    return sorted(found, key=lambda p: p.stem)


def _day(ts_ms: int) -> date:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).date()


def _is_own_site(page_url: str, site: str, domains: tuple[str, ...]) -> bool:
    host = host_of(page_url)
    return any(host == d or host.endswith("." + d) or site == d for d in domains)


@dataclass
class _Batch:
    stats: dict[tuple[str, str, date], Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    visitors: set[tuple[date, str, str, str]] = field(default_factory=set)
    pages: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    dropped: Counter[tuple[date, str]] = field(default_factory=Counter)

    def add(self, record: HitRecord, domains: tuple[str, ...] | None) -> None:
        day = _day(record.ts_ms)
        if domains is None:
            reason = record.reason if record.reason is DropReason.MALFORMED else None
            self.dropped[(day, (reason or DropReason.UNKNOWN_STORY).value)] += 1
            return
        site = registrable_domain(record.page_url) if record.page_url else UNKNOWN_SITE
        verdict = record.verdict
        if (
            verdict is Verdict.HUMAN
            and record.page_url
            and _is_own_site(record.page_url, site, domains)
        ):
            verdict = Verdict.PREVIEW  # the publisher looking at its own pages
        counts = self.stats[(record.story_id, site, day)]
        if verdict is Verdict.HUMAN:
            counts["views"] += 1
            if record.visitor:
                self.visitors.add((day, record.story_id, site, record.visitor))
            if record.page_url:
                seen = datetime.fromtimestamp(record.ts_ms / 1000, UTC)
                key = (record.story_id, record.page_url)
                page = self.pages.get(key)
                if page is None:
                    self.pages[key] = [site, seen, seen, 1]
                else:
                    page[1] = min(page[1], seen)
                    page[2] = max(page[2], seen)
                    page[3] += 1
        elif verdict is Verdict.BOT:
            counts["bots"] += 1
        elif verdict is Verdict.PREFETCH:
            counts["prefetches"] += 1
        elif verdict is Verdict.PREVIEW:
            counts["previews"] += 1
        else:
            self.dropped[(day, record.reason.value or DropReason.UNKNOWN_STORY.value)] += 1


def _apply(conn: Any, batch: _Batch, result: RollupResult) -> None:
    visitor_rows = [
        {"day": day, "story_id": story, "site": site, "visitor": visitor}
        for day, story, site, visitor in batch.visitors
    ]
    for day, story, site in store.add_visitors(conn, visitor_rows):
        batch.stats[(story, site, day)]["readers"] += 1
    store.add_daily_stats(
        conn,
        [
            {
                "story_id": story,
                "site": site,
                "day": day,
                "views": counts["views"],
                "readers": counts["readers"],
                "bots": counts["bots"],
                "prefetches": counts["prefetches"],
                "previews": counts["previews"],
            }
            for (story, site, day), counts in batch.stats.items()
        ],
    )
    result.new_republishers += store.add_republications(
        conn,
        [
            {
                "story_id": story,
                "page_url": page_url,
                "site": site,
                "first_seen": first,
                "last_seen": last,
                "views": views,
            }
            for (story, page_url), (site, first, last, views) in batch.pages.items()
        ],
    )
    store.add_dropped(
        conn,
        [{"day": day, "reason": reason, "hits": n} for (day, reason), n in batch.dropped.items()],
    )


def rollup(
    db: Database,
    log_dir: Path,
    *,
    retention: timedelta = timedelta(days=7),
    clock: Callable[[], float] = time.time,
    chunk_bytes: int = CHUNK_BYTES,
) -> RollupResult:
    """Add every new hit in ``log_dir/segments`` to the summary tables, once.

    Sealed segments that are fully rolled up and older than ``retention`` are removed.
    """
    directory = log_dir / "segments"
    result = RollupResult()
    now = datetime.fromtimestamp(clock(), UTC)
    with db.connect() as conn:
        known = store.positions(conn)
    for path in _segments(directory):
        name = path.stem
        position = known.get(name)
        offset = position.offset if position else 0
        sealed = path.suffix == SEALED_SUFFIX
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue  # renamed from .open to .seg meanwhile: read on the next pass
        if position is not None and offset >= size and position.sealed == sealed:
            continue
        result.segments_read += 1
        with path.open("rb") as handle:
            while True:
                handle.seek(offset)
                data = handle.read(chunk_bytes)
                records, consumed, damaged = read_records(data)
                if consumed == 0 and position is not None and position.sealed == sealed:
                    break
                if consumed == 0 and len(data) >= chunk_bytes:
                    raise RuntimeError(f"{path}: a line longer than {chunk_bytes} bytes")
                with db.begin() as conn:
                    domains = store.story_domains(conn, (r.story_id for r in records))
                    batch = _Batch()
                    for record in records:
                        batch.add(record, domains.get(record.story_id))
                    _apply(conn, batch, result)
                    store.advance_position(
                        conn,
                        name,
                        None if position is None else offset,
                        offset + consumed,
                        len(records),
                        damaged,
                        sealed,
                        now,
                    )
                result.hits += len(records)
                result.damaged += damaged
                offset += consumed
                position = store.Position(name, offset, 0, 0, sealed, now)
                if consumed == 0 or len(data) < chunk_bytes:
                    break
    result.segments_removed = _remove_old_segments(db, directory, now, retention)
    with db.begin() as conn:
        store.delete_visitors_before(conn, now.date() - timedelta(days=1))
    if result.damaged:
        logger.warning("skipped %d damaged hit log lines", result.damaged)
    return result


def _remove_old_segments(db: Database, directory: Path, now: datetime, keep: timedelta) -> int:
    with db.connect() as conn:
        known = store.positions(conn)
    removed = []
    for path in _segments(directory):
        position = known.get(path.stem)
        if path.suffix != SEALED_SUFFIX or position is None or not position.sealed:
            continue
        if position.offset < path.stat().st_size:
            continue
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        if now - modified > keep:
            os.unlink(path)
            removed.append(path.stem)
    if removed:
        with db.begin() as conn:
            store.forget_positions(conn, removed)
    return len(removed)
