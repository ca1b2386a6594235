"""Roll the hit log up into summary tables, exactly once.

Each pass reads every segment from its stored position, aggregates the complete lines in
memory, and in ONE transaction adds the counts and advances the position. A crash before
the commit leaves both untouched (the hits are read again); after it, both are done. Two
rollups racing on one segment cannot both commit (see ``advance_position``).
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from republish.hits import DropReason, Verdict
from republish.stats.linecount import DAY_MS, HUMAN, READ_BYTES, Chunk, count_chunks, count_lines
from republish.stats.readers import Groups, Keys, KnownReaders, by_day, keys_of_many
from republish.store import hits as store
from republish.store import notifications as notification_store
from republish.store.db import Database
from republish.urls import host_of, on_domains, registrable_domain

logger = logging.getLogger("republish.stats")

OPEN_SUFFIX = ".open"
SEALED_SUFFIX = ".seg"
UNKNOWN_SITE = "unknown"
# Bytes of log per transaction at most: a backlog is rolled up in few transactions, each
# row of the summary tables written about once per chunk (counted from reads of
# linecount.READ_BYTES).
CHUNK_BYTES = 64 * 1024 * 1024


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


def _is_own_host(host: str, site: str, domains: tuple[str, ...]) -> bool:
    return site in domains or on_domains(host, domains)


# The counts of a daily_stats row, in this order.
_COUNTS = ("views", "readers", "bots", "prefetches", "previews")
_VIEWS, _READERS, _BOTS, _PREFETCHES, _PREVIEWS = range(len(_COUNTS))
_COLUMN = {
    Verdict.BOT.value.encode(): _BOTS,
    Verdict.PREFETCH.value.encode(): _PREFETCHES,
    Verdict.PREVIEW.value.encode(): _PREVIEWS,
}
_MALFORMED = DropReason.MALFORMED.value.encode()
# (site, host) of pages met in earlier chunks: parsing URLs is the costliest part of
# resolving a chunk, and the same pages come back chunk after chunk.
_PAGE_INFO: dict[bytes, tuple[str, str]] = {}
_PAGE_INFO_MAX = 200_000


@dataclass
class _Batch:
    """Counts for one chunk of the log, keyed so that each distinct key is handled once."""

    domains: dict[str, tuple[str, ...]]
    counts: Counter[tuple[bytes, bytes, int, bytes, bytes]] = field(default_factory=Counter)
    # (day number, story, page) -> visitor hashes of human hits
    readers: dict[tuple[int, bytes, bytes], set[bytes]] = field(default_factory=dict)
    first: dict[tuple[bytes, bytes], int] = field(default_factory=dict)
    last: dict[tuple[bytes, bytes], int] = field(default_factory=dict)
    resolved: Any = None  # what resolve() returned, when done ahead (see _read_ahead)

    def add_data(self, data: bytes) -> tuple[int, int, int]:
        """Check and count the complete lines of ``data`` (see
        :func:`republish.stats.linecount.count_lines`). Returns the bytes consumed (up to
        the last newline), the hits counted and the damaged lines skipped."""
        return count_lines(data, self.counts, self.readers, self.first, self.last)

    def resolve(
        self,
    ) -> tuple[
        dict[tuple[str, str, date], list[int]],
        tuple[dict[int, tuple[Keys, Groups]], list[tuple[str, str, date]]],
        dict[tuple[str, str], list[Any]],
        Counter[tuple[date, str]],
    ]:
        """Turn the raw counts into rows: sites, own-site previews, unknown stories.

        Readers come per day number as distinct reader keys and the group of each, with the
        (story, site, day) of each group.
        """
        stats: dict[tuple[str, str, date], list[int]] = {}  # counts in _COUNTS order
        dropped: Counter[tuple[date, str]] = Counter()
        if len(_PAGE_INFO) > _PAGE_INFO_MAX:
            _PAGE_INFO.clear()
        pages_seen = _PAGE_INFO
        own: dict[tuple[str, str, tuple[str, ...]], bool] = {}
        days: dict[int, date] = {}

        def site_of(page: bytes) -> str:
            return page_info(page)[0]

        def page_info(page: bytes) -> tuple[str, str]:
            info = pages_seen.get(page)
            if info is None:
                text = page.decode()
                info = (registrable_domain(text), host_of(text)) if page else (UNKNOWN_SITE, "")
                pages_seen[page] = info
            return info

        def is_own(page: bytes, story: str) -> bool:
            if not page:
                return False
            site, host = page_info(page)
            key = (site, host, self.domains[story])
            if key not in own:
                own[key] = _is_own_host(host, site, key[2])
            return own[key]

        for (raw_story, page, day_n, verdict, reason), n in self.counts.items():
            day = days.get(day_n) or days.setdefault(day_n, _day(day_n * DAY_MS))
            story = raw_story.decode()
            if story not in self.domains:
                label = DropReason.MALFORMED if reason == _MALFORMED else DropReason.UNKNOWN_STORY
                dropped[(day, label.value)] += n
                continue
            site = site_of(page)
            column = _COLUMN.get(verdict)
            if verdict == HUMAN:
                column = _PREVIEWS if is_own(page, story) else _VIEWS
            if column is None:
                dropped[(day, reason.decode() or DropReason.UNKNOWN_STORY.value)] += n
                continue
            row = stats.get((story, site, day))
            if row is None:
                row = stats[(story, site, day)] = [0] * len(_COUNTS)
            row[column] += n
        groups: dict[tuple[str, str, date], int] = {}
        pair_of: dict[tuple[bytes, str], int] = {}  # (story, site) -> site key
        visitors: list[bytes] = []
        sizes: list[int] = []
        pairs: list[int] = []
        group_of: list[int] = []
        day_of: list[int] = []  # days since 1970
        for (d, raw_story, p), seen in self.readers.items():
            story = raw_story.decode()
            if story not in self.domains or is_own(p, story):
                continue
            site = site_of(p)
            group = groups.setdefault((story, site, days[d]), len(groups))
            pair = pair_of.get((raw_story, site))
            if pair is None:
                pair = pair_of[(raw_story, site)] = store.site_key(raw_story, site.encode())
            visitors += seen
            sizes.append(len(seen))
            pairs.append(pair)
            group_of.append(group)
            day_of.append(d)
        readers = by_day(
            keys_of_many(np.repeat(np.array(pairs, dtype=np.uint64), sizes), visitors),
            np.repeat(np.array(group_of, dtype=np.intp), sizes),
            np.repeat(np.array(day_of, dtype=np.int64), sizes),
        )
        pages: dict[tuple[str, str], list[Any]] = {}
        for (raw_story, page), first_ms in self.first.items():
            story = raw_story.decode()
            if story not in self.domains or is_own(page, story):
                continue
            pages[(story, page.decode())] = [
                site_of(page),
                datetime.fromtimestamp(first_ms / 1000, UTC),
                datetime.fromtimestamp(self.last[(raw_story, page)] / 1000, UTC),
                0,
            ]
        for (raw_story, page, _, verdict, _), n in self.counts.items():
            if verdict == HUMAN and page:
                entry = pages.get((raw_story.decode(), page.decode()))
                if entry is not None:
                    entry[3] += n
        return stats, (readers, list(groups)), pages, dropped


def _apply(
    conn: Any, batch: _Batch, result: RollupResult, now: datetime, known: KnownReaders
) -> None:
    stats, (readers, groups), pages, dropped = batch.resolved or batch.resolve()
    fresh = known.add(conn, readers, len(groups))
    for group in np.flatnonzero(fresh).tolist():
        stats[groups[group]][_READERS] += int(fresh[group])
    # Sorted: the rows go into the tables' indexes in order.
    store.add_daily_stats(conn, sorted((*key, *counts) for key, counts in stats.items()))
    new_republishers = store.add_republications(
        conn,
        sorted((story, page_url, *entry) for (story, page_url), entry in pages.items()),
    )
    result.new_republishers += new_republishers
    # In the same transaction as the counts: a notification exists exactly when its count does.
    notification_store.enqueue_new_republishers(conn, new_republishers, now)
    store.add_dropped(
        conn,
        [{"day": day, "reason": reason, "hits": n} for (day, reason), n in dropped.items()],
    )


class _Domains:
    """Each story's publisher domains, read once per pass: a pass over a backlog meets the
    same stories chunk after chunk. Ids not found are asked again with the next chunk (the
    story may be created meanwhile)."""

    def __init__(self) -> None:
        self.known: dict[str, tuple[str, ...]] = {}

    def of(self, db: Database, story_ids: set[str]) -> dict[str, tuple[str, ...]]:
        missing = story_ids - self.known.keys()
        if missing:
            with db.connect() as conn:
                self.known.update(store.story_domains(conn, missing))
        known = self.known
        return {story: known[story] for story in story_ids if story in known}


# A segment with this many bytes left to roll up is checked and counted in a helper
# process, off this process's GIL: the per-line loop is the costliest Python work.
HELPER_MIN_BYTES = 64 * 1024 * 1024
HELPER_MODULE = "republish.stats.linecount"


def _python_path() -> list[str]:
    return [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]


def _start_helper(path: Path, offset: int, chunk_bytes: int) -> subprocess.Popen[bytes]:
    """Start ``python -m republish.stats.linecount`` on a segment (see :func:`_from_helper`)."""
    command = [sys.executable, "-m", HELPER_MODULE, str(path), str(offset), str(chunk_bytes)]
    # The same package as this process's, wherever it was imported from.
    package_root = str(Path(__file__).resolve().parents[2])
    env = os.environ | {"PYTHONPATH": os.pathsep.join([package_root, *_python_path()])}
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env)


def _stop(helper: subprocess.Popen[bytes]) -> None:
    if helper.poll() is None:
        helper.kill()
    helper.wait()
    if helper.stdout is not None:
        helper.stdout.close()


def _from_helper(helper: subprocess.Popen[bytes], path: Path) -> Generator[Chunk, None, None]:
    """What :func:`~republish.stats.linecount.count_chunks` gives, counted by a helper
    process (at most a chunk or two ahead: it waits while the pipe is full)."""
    assert helper.stdout is not None
    try:
        while True:
            try:
                chunk = Chunk(*pickle.load(helper.stdout))
            except EOFError:
                helper.wait()
                raise RuntimeError(
                    f"the helper counting {path.name} ended early (exit code {helper.returncode})"
                ) from None
            if not chunk.more:
                helper.wait(timeout=10)  # it has written all: let it end on its own
            yield chunk
            if not chunk.more:
                return
    finally:
        _stop(helper)


@dataclass
class _Segment:
    """A segment a pass rolls up, and how far it has got."""

    path: Path
    position: store.Position | None
    offset: int
    sealed: bool
    helper: bool  # counted in a helper process (a backlog)


def _counted(
    segments: list[_Segment], chunk_bytes: int
) -> Generator[tuple[_Segment, Chunk], None, None]:
    """The counted chunks of every segment in turn. A segment's helper starts when the one
    before has been counted, so that it counts while that one is resolved and written."""
    started: dict[int, subprocess.Popen[bytes]] = {}

    def start(index: int) -> None:
        if index < len(segments) and segments[index].helper:
            segment = segments[index]
            started[index] = _start_helper(segment.path, segment.offset, chunk_bytes)

    try:
        start(0)
        for index, segment in enumerate(segments):
            helper = started.pop(index, None)
            if helper is not None:
                chunks = _from_helper(helper, segment.path)
            else:
                chunks = count_chunks(segment.path, segment.offset, chunk_bytes)
            with closing(chunks):
                for chunk in chunks:
                    if not chunk.more:
                        start(index + 1)
                    yield segment, chunk
    finally:
        for helper in started.values():
            _stop(helper)


def _read_ahead(
    db: Database, segments: list[_Segment], chunk_bytes: int, domains: _Domains
) -> Generator[tuple[_Segment, Chunk, _Batch], None, None]:
    """The chunks of the segments with their counts, each counted and resolved in a thread
    while the caller writes the one before (database calls release the GIL, so both run at
    once)."""
    counts = _counted(segments, chunk_bytes)

    def read() -> tuple[_Segment, Chunk, _Batch] | None:
        found = next(counts, None)
        if found is None:
            return None
        segment, chunk = found
        batch = _Batch({}, *chunk.counted)
        # Resolved here too, so that all the Python work on this chunk overlaps the
        # database's work on the one before. The domains are read on this thread's own
        # connection, before the chunk's transaction (they rarely change).
        batch.domains = domains.of(db, {key[0].decode() for key in batch.counts})
        batch.resolved = batch.resolve()
        return segment, chunk, batch

    try:
        with ThreadPoolExecutor(1, thread_name_prefix="rollup-read") as pool:
            future = pool.submit(read)
            while (found := future.result()) is not None:
                future = pool.submit(read)
                yield found
            # (on an early exit the pool waits for the chunk being read, then counts closes)
    finally:
        counts.close()


def rollup(
    db: Database,
    log_dir: Path,
    *,
    retention: timedelta = timedelta(days=7),
    clock: Callable[[], float] = time.time,
    chunk_bytes: int = CHUNK_BYTES,
    readers: KnownReaders | None = None,
) -> RollupResult:
    """Add every new hit in ``log_dir/segments`` to the summary tables, once.

    Sealed segments that are fully rolled up and older than ``retention`` are removed.
    ``readers``: the stored reader keys held from earlier passes (see
    :class:`republish.stats.readers.KnownReaders`; drop it when a pass fails).
    """
    directory = log_dir / "segments"
    result = RollupResult()
    readers = KnownReaders() if readers is None else readers
    domains = _Domains()
    now = datetime.fromtimestamp(clock(), UTC)
    with db.connect() as conn:
        known = store.positions(conn)
    segments = []
    for path in _segments(directory):
        position = known.get(path.stem)
        offset = position.offset if position else 0
        sealed = path.suffix == SEALED_SUFFIX
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue  # renamed from .open to .seg meanwhile: read on the next pass
        if position is not None and offset >= size and position.sealed == sealed:
            continue
        helper = size - offset >= HELPER_MIN_BYTES
        segments.append(_Segment(path, position, offset, sealed, helper))
    result.segments_read = len(segments)
    with closing(_read_ahead(db, segments, chunk_bytes, domains)) as chunks:
        for segment, chunk, batch in chunks:
            consumed, position = chunk.consumed, segment.position
            if chunk.stuck:
                limit = min(chunk_bytes, READ_BYTES)
                raise RuntimeError(f"{segment.path}: a line longer than {limit} bytes")
            if consumed == 0 and position is not None and position.sealed == segment.sealed:
                continue  # nothing new, and no change to record
            name = segment.path.stem
            with db.begin() as conn:
                _apply(conn, batch, result, now, readers)
                store.advance_position(
                    conn,
                    name,
                    None if position is None else segment.offset,
                    segment.offset + consumed,
                    chunk.hits,
                    chunk.damaged,
                    segment.sealed,
                    now,
                )
            result.hits += chunk.hits
            result.damaged += chunk.damaged
            segment.offset += consumed
            segment.position = store.Position(name, segment.offset, 0, 0, segment.sealed, now)
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
