"""Queries for the hit rollups: log positions and the summary tables."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import repeat
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

from republish.store.dialect import insert_new_counted, load_temp, upsert_add, upsert_add_from
from republish.store.schema import (
    daily_readers,
    daily_stats,
    dropped_daily,
    hit_log_positions,
    publishers,
    republications,
    stories,
)

_EPOCH = date(1970, 1, 1)
_HASH_LENGTH = 32  # hex digits of the pixel's visitor hashes
_HEAD = itemgetter(slice(0, 16))
_SIGNED = (-(1 << 63)).__add__
_STATS = ("story_id", "site", "day", "views", "readers", "bots", "prefetches", "previews")
_PAGES = ("story_id", "page_url", "site", "first_seen", "last_seen", "views")


class PositionMoved(RuntimeError):
    """Another rollup advanced this segment first; this transaction must be dropped."""


class ReadersMoved(RuntimeError):
    """Another rollup stored a reader key this one was about to store as new; this
    transaction must be dropped."""


@dataclass(frozen=True)
class Position:
    """How far one segment has been rolled up."""

    segment: str
    offset: int
    hits: int
    damaged: int
    sealed: bool
    updated_at: datetime | None


def positions(conn: sa.Connection) -> dict[str, Position]:
    """Every segment's position, by segment name."""
    rows = conn.execute(sa.select(hit_log_positions)).mappings()
    return {
        row["segment"]: Position(
            row["segment"],
            row["offset"],
            row["hits"],
            row["damaged"],
            bool(row["sealed"]),
            row["updated_at"],
        )
        for row in rows
    }


def advance_position(
    conn: sa.Connection,
    segment: str,
    old_offset: int | None,
    new_offset: int,
    hits: int,
    damaged: int,
    sealed: bool,
    now: datetime,
) -> None:
    """Move a segment's position from ``old_offset`` (None: first time) to ``new_offset``.

    Raises :class:`PositionMoved` when another process moved it meanwhile, so the
    caller's transaction rolls back and nothing is counted twice.
    """
    if old_offset is None:
        try:
            with conn.begin_nested():
                conn.execute(
                    hit_log_positions.insert().values(
                        segment=segment,
                        offset=new_offset,
                        hits=hits,
                        damaged=damaged,
                        sealed=sealed,
                        updated_at=now,
                    )
                )
        except sa.exc.IntegrityError as exc:
            raise PositionMoved(segment) from exc
        return
    result = conn.execute(
        hit_log_positions.update()
        .where(hit_log_positions.c.segment == segment, hit_log_positions.c.offset == old_offset)
        .values(
            offset=new_offset,
            hits=hit_log_positions.c.hits + hits,
            damaged=hit_log_positions.c.damaged + damaged,
            sealed=sealed,
            updated_at=now,
        )
    )
    if result.rowcount != 1:
        raise PositionMoved(segment)


def forget_positions(conn: sa.Connection, segments: Iterable[str]) -> None:
    """Drop the positions of segments that were removed from disk."""
    names = list(segments)
    if names:
        conn.execute(hit_log_positions.delete().where(hit_log_positions.c.segment.in_(names)))


def story_domains(conn: sa.Connection, story_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """For each known story id, its publisher's own domains."""
    ids = sorted(set(story_ids))
    found: dict[str, tuple[str, ...]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = conn.execute(
            sa.select(stories.c.id, publishers.c.domains)
            .join(publishers, publishers.c.id == stories.c.publisher_id)
            .where(stories.c.id.in_(chunk))
        )
        for story_id, domains in rows:
            found[story_id] = tuple(domains)
    return found


def _with_publisher(temp: sa.TableClause, columns: Sequence[str]) -> sa.Select[Any]:
    """The rows of ``temp`` with their story's publisher id (rows of unknown stories drop)."""
    return sa.select(*(temp.c[name] for name in columns), stories.c.publisher_id).join(
        stories, stories.c.id == temp.c.story_id
    )


def add_daily_stats(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Add counts to (story, site, day) rows (each key at most once in ``rows``)."""
    if not rows:
        return
    temp = load_temp(
        conn, "batch_daily_stats", daily_stats, _STATS, [tuple(r[c] for c in _STATS) for r in rows]
    )
    upsert_add_from(
        conn,
        daily_stats,
        (*_STATS, "publisher_id"),
        _with_publisher(temp, _STATS),
        keys=("story_id", "site", "day"),
        add=("views", "readers", "bots", "prefetches", "previews"),
    )


def day_number(day: date) -> int:
    """Days since 1970-01-01 (how ``daily_readers`` stores days)."""
    return (day - _EPOCH).days


def site_key(story_id: bytes, site: bytes) -> int:
    """The part of a reader key shared by every reader of one story on one site."""
    digest = hashlib.blake2b(b"%s\x00%s" % (story_id, site), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def reader_key(site_key_: int, visitor: bytes) -> int:
    """A signed 64-bit key for one visitor hash of one story on one site.

    The pixel's visitor hashes are 32 random hex digits: their first half is mixed with the
    site key. Anything else is hashed whole. Two readers collide with odds of 2**-64.
    """
    if len(visitor) == 32:
        try:
            return (int(visitor[:16], 16) ^ site_key_) - (1 << 63)
        except ValueError:
            pass
    digest = hashlib.blake2b(b"%d\x00%s" % (site_key_, visitor), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def reader_keys(story_id: bytes, site: bytes, visitors: Iterable[bytes]) -> list[int]:
    """:func:`reader_key` of each visitor of one story on one site (the rollup's hot path:
    the pixel's hashes are keyed without a Python step per visitor)."""
    pair = site_key(story_id, site)
    found = list(visitors)
    if all(map(_HASH_LENGTH.__eq__, map(len, found))):
        try:
            head = map(int, map(_HEAD, found), repeat(16))
            return list(map(_SIGNED, map(pair.__xor__, head)))
        except ValueError:
            pass  # not all hex: each on its own below
    return [reader_key(pair, visitor) for visitor in found]


def add_readers(conn: sa.Connection, rows: Sequence[tuple[int, int, int]]) -> Counter[int]:
    """Record readers given as (day number, reader key, group), each at most once; return
    how many of them were not seen before, per group."""
    if not rows:
        return Counter()
    temp = load_temp(conn, "batch_readers", daily_readers, ("day", "reader"), rows, ("grp",))
    return Counter(insert_new_counted(conn, daily_readers, temp, ("day", "reader"), "grp"))


def readers_of_day(conn: sa.Connection, day: int, limit: int) -> set[int] | None:
    """The reader keys stored for ``day`` (a day number), or None if there are more than
    ``limit`` (too many to be worth holding in memory)."""
    query = (
        sa.select(daily_readers.c.reader)
        .where(daily_readers.c.day == day)
        .limit(limit + 1)
        .subquery()
    )
    if conn.dialect.name == "postgresql":
        # One array value instead of a row per key.
        found = conn.execute(sa.select(sa.func.array_agg(query.c.reader))).scalar_one() or []
    else:
        # One JSON array instead of a row per key (see dialect.load_temp about the GIL).
        text = conn.execute(sa.select(sa.func.json_group_array(query.c.reader))).scalar_one()
        found = json.loads(text)
    return None if len(found) > limit else set(found)


def insert_readers(conn: sa.Connection, day: int, keys: Collection[int]) -> None:
    """Store reader keys of ``day`` that are known not to be stored yet.

    A plain insert, no conflict handling: a key that is there after all (another rollup
    stored it meanwhile) raises :class:`ReadersMoved`, so the transaction rolls back instead
    of counting a reader twice.
    """
    if not keys:
        return
    raw: Any = conn.connection.driver_connection
    dbapi: Any = conn.dialect.dbapi
    # In index order: the keys are hashes, and inserting them sorted walks the index's
    # pages once in order instead of jumping to a random page for every key.
    ordered = sorted(keys)
    try:
        if conn.dialect.name == "postgresql":
            line = b"%d\t" % day + b"%d\n"
            copy_sql = "COPY daily_readers (day, reader) FROM STDIN"
            with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
                copy.write(b"".join(map(line.__mod__, ordered)))
        else:
            raw.execute(
                "INSERT INTO daily_readers (day, reader) SELECT ?, value FROM json_each(?)",
                (day, json.dumps(ordered)),
            )
    except dbapi.IntegrityError as exc:
        raise ReadersMoved(f"day {day}") from exc


def add_dropped(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Add counts of hits that belong to no known story."""
    upsert_add(conn, dropped_daily, rows, keys=("day", "reason"), add=("hits",))


def add_republications(conn: sa.Connection, rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Add views to (story, page) rows (each at most once in ``rows``); return the (story,
    site) pairs seen for the first time (a story's new republishers)."""
    if not rows:
        return []
    temp = load_temp(
        conn, "batch_republications", republications, _PAGES,
        [tuple(r[c] for c in _PAGES) for r in rows],
    )  # fmt: skip
    known = (
        sa.select(republications.c.story_id)
        .where(republications.c.story_id == temp.c.story_id, republications.c.site == temp.c.site)
        .exists()
    )
    new = conn.execute(sa.select(temp.c.story_id, temp.c.site).where(~known).distinct())
    pairs = sorted((story, site) for story, site in new)
    upsert_add_from(
        conn,
        republications,
        (*_PAGES, "publisher_id"),
        _with_publisher(temp, _PAGES),
        keys=("story_id", "page_url"),
        add=("views",),
        greatest=("last_seen",),
        least=("first_seen",),
    )
    return pairs


def delete_visitors_before(conn: sa.Connection, day: date) -> int:
    """Delete reader keys of days before ``day``; their salts are gone."""
    result = conn.execute(daily_readers.delete().where(daily_readers.c.day < day_number(day)))
    return result.rowcount
