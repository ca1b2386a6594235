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
from collections import Counter, defaultdict
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import repeat
from pathlib import Path
from typing import Any

from republish.hits import DropReason, Verdict
from republish.stats.linecount import DAY_MS, HUMAN, count_chunks, count_lines
from republish.store import hits as store
from republish.store import notifications as notification_store
from republish.store.db import Database
from republish.urls import host_of, on_domains, registrable_domain

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


def _is_own_host(host: str, site: str, domains: tuple[str, ...]) -> bool:
    return site in domains or on_domains(host, domains)


_COLUMN = {
    Verdict.BOT.value.encode(): "bots",
    Verdict.PREFETCH.value.encode(): "prefetches",
    Verdict.PREVIEW.value.encode(): "previews",
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
        dict[tuple[str, str, date], Counter[str]],
        tuple[dict[int, dict[int, int]], list[tuple[str, str, date]]],
        dict[tuple[str, str], list[Any]],
        Counter[tuple[date, str]],
    ]:
        """Turn the raw counts into rows: sites, own-site previews, unknown stories.

        Readers come as {reader key: group} per day number, and the (story, site, day) of
        each group.
        """
        stats: dict[tuple[str, str, date], Counter[str]] = defaultdict(Counter)
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
                column = "previews" if is_own(page, story) else "views"
            if column is None:
                dropped[(day, reason.decode() or DropReason.UNKNOWN_STORY.value)] += n
                continue
            stats[(story, site, day)][column] += n
        groups: dict[tuple[str, str, date], int] = {}
        readers: dict[int, dict[int, int]] = {}  # day number -> {reader key: group}
        for (d, raw_story, p), seen in self.readers.items():
            story = raw_story.decode()
            if story not in self.domains or is_own(p, story):
                continue
            site = site_of(p)
            group = groups.setdefault((story, site, days[d]), len(groups))
            keys = store.reader_keys(raw_story, site.encode(), seen)
            # d counts days since 1970 (see day_number)
            readers.setdefault(d, {}).update(zip(keys, repeat(group)))
        visitors = (readers, list(groups))
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
        return stats, visitors, pages, dropped


# A day's stored reader keys are loaded into memory when there are at most this many per
# key of that day met so far in the pass (plus a floor): loading a key costs far less than
# having the database look one up.
_LOAD_PER_KEY = 16
_LOAD_FLOOR = 20_000
_KNOWN_MAX = 2_000_000  # keys held in memory at most (about 60 bytes each)


class _KnownReaders:
    """The stored reader keys of the days a pass is writing, mirrored in memory, so that
    new readers are found with set operations and stored with a plain insert; letting the
    database find them (an index lookup and a conflict check per key) was most of the
    rollup's database work.

    Lives for one pass: days are loaded from committed rows, and a failed transaction ends
    the pass. A day with too many keys to be worth loading is checked in the database.
    """

    def __init__(self) -> None:
        self.days: dict[int, set[int]] = {}
        self.met: Counter[int] = Counter()  # keys met in this pass, per day
        self.refused: dict[int, int] = {}  # day -> the limit of the last load that found more
        self.recent: set[int] = set()  # the days of the previous chunk

    def _known(self, conn: Any, day: int) -> set[int] | None:
        known = self.days.get(day)
        if known is not None:
            return known
        limit = min(_LOAD_PER_KEY * self.met[day] + _LOAD_FLOOR, _KNOWN_MAX)
        limit -= sum(map(len, self.days.values()))
        if limit < 2 * self.refused.get(day, 0) or limit <= 0:
            return None  # tried with half as many at least; not worth trying yet
        known = store.readers_of_day(conn, day, limit)
        if known is None:
            self.refused[day] = limit
        else:
            self.days[day] = known
        return known

    def add(self, conn: Any, readers: dict[int, dict[int, int]]) -> Counter[int]:
        """Store the chunk's reader keys (``{key: group}`` per day number); return how
        many were new per group."""
        fresh: Counter[int] = Counter()
        for day, candidates in readers.items():
            self.met[day] += len(candidates)
            known = self._known(conn, day)
            if known is None:
                rows = [(day, key, group) for key, group in candidates.items()]
                fresh.update(store.add_readers(conn, rows))
                continue
            new = candidates.keys() - known
            known |= new
            store.insert_readers(conn, day, new)
            fresh.update(map(candidates.__getitem__, new))
        # Keep the days of this chunk and the one before (a log is in time order, more or
        # less); a day met again later is loaded again.
        for day in set(self.days) - set(readers) - self.recent:
            del self.days[day]
        self.recent = set(readers)
        return fresh


def _apply(
    conn: Any, batch: _Batch, result: RollupResult, now: datetime, known: _KnownReaders
) -> None:
    stats, (readers, groups), pages, dropped = batch.resolved or batch.resolve()
    for group, new in known.add(conn, readers).items():
        stats[groups[group]]["readers"] += new
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
            for (story, site, day), counts in stats.items()
        ],
    )
    new_republishers = store.add_republications(
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
            for (story, page_url), (site, first, last, views) in pages.items()
        ],
    )
    result.new_republishers += new_republishers
    # In the same transaction as the counts: a notification exists exactly when its count does.
    notification_store.enqueue_new_republishers(conn, new_republishers, now)
    store.add_dropped(
        conn,
        [{"day": day, "reason": reason, "hits": n} for (day, reason), n in dropped.items()],
    )


@dataclass
class _Chunk:
    size: int  # bytes read
    consumed: int  # bytes of complete lines
    hits: int
    damaged: int
    batch: _Batch


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
_Counted = tuple[int, int, int, int, _Batch]  # bytes read, consumed, hits, damaged, counts


def _count_here(path: Path, offset: int, chunk_bytes: int) -> Generator[_Counted, None, None]:
    for size, consumed, hits, damaged, counted in count_chunks(path, offset, chunk_bytes):
        yield size, consumed, hits, damaged, _Batch({}, *counted)


def _python_path() -> list[str]:
    return [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]


def _count_in_helper(path: Path, offset: int, chunk_bytes: int) -> Generator[_Counted, None, None]:
    """What :func:`_count_here` gives, counted by ``python -m republish.stats.linecount`` (a
    process of its own, at most a chunk or two ahead: it waits while the pipe is full)."""
    command = [sys.executable, "-m", HELPER_MODULE, str(path), str(offset), str(chunk_bytes)]
    # The same package as this process's, wherever it was imported from.
    package_root = str(Path(__file__).resolve().parents[2])
    env = os.environ | {"PYTHONPATH": os.pathsep.join([package_root, *_python_path()])}
    helper = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env)
    assert helper.stdout is not None
    try:
        while True:
            try:
                size, consumed, hits, damaged, counted = pickle.load(helper.stdout)
            except EOFError:
                helper.wait()
                raise RuntimeError(
                    f"the helper counting {path.name} ended early (exit code {helper.returncode})"
                ) from None
            yield size, consumed, hits, damaged, _Batch({}, *counted)
            if consumed == 0 or size < chunk_bytes:
                return
    finally:
        if helper.poll() is None:
            helper.kill()
        helper.wait()
        helper.stdout.close()


def _read_ahead(
    db: Database,
    path: Path,
    offset: int,
    chunk_bytes: int,
    domains: _Domains,
    helper: bool = False,
) -> Iterator[_Chunk]:
    """The chunks of a segment from ``offset``, each read, counted and resolved in a thread
    while the caller writes the one before (database calls release the GIL, so both run at
    once); with ``helper``, read and counted in a helper process."""
    counts = (_count_in_helper if helper else _count_here)(path, offset, chunk_bytes)

    def read() -> _Chunk:
        size, consumed, hits, damaged, batch = next(counts)
        # Resolved here too, so that all the Python work on this chunk overlaps the
        # database's work on the one before. The domains are read on this thread's own
        # connection, before the chunk's transaction (they rarely change).
        batch.domains = domains.of(db, {key[0].decode() for key in batch.counts})
        batch.resolved = batch.resolve()
        return _Chunk(size, consumed, hits, damaged, batch)

    try:
        with ThreadPoolExecutor(1, thread_name_prefix="rollup-read") as pool:
            future = pool.submit(read)
            while True:
                chunk = future.result()
                if chunk.consumed == 0 or chunk.size < chunk_bytes:
                    yield chunk
                    return
                future = pool.submit(read)
                yield chunk
    finally:
        counts.close()


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
    readers = _KnownReaders()
    domains = _Domains()
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
        helper = size - offset >= HELPER_MIN_BYTES
        for chunk in _read_ahead(db, path, offset, chunk_bytes, domains, helper):
            consumed, batch = chunk.consumed, chunk.batch
            if consumed == 0 and position is not None and position.sealed == sealed:
                break
            if consumed == 0 and chunk.size >= chunk_bytes:
                raise RuntimeError(f"{path}: a line longer than {chunk_bytes} bytes")
            with db.begin() as conn:
                _apply(conn, batch, result, now, readers)
                store.advance_position(
                    conn,
                    name,
                    None if position is None else offset,
                    offset + consumed,
                    chunk.hits,
                    chunk.damaged,
                    sealed,
                    now,
                )
            result.hits += chunk.hits
            result.damaged += chunk.damaged
            offset += consumed
            position = store.Position(name, offset, 0, 0, sealed, now)
            if consumed == 0 or chunk.size < chunk_bytes:
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
