"""Queries for the hit rollups: log positions and the summary tables."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from republish.store.dialect import insert, load_temp, upsert_add, upsert_add_from
from republish.store.schema import (
    daily_stats,
    dropped_daily,
    hit_log_positions,
    publishers,
    reader_blocks,
    reader_days,
    republications,
    stories,
)

_EPOCH = date(1970, 1, 1)
_STATS = ("story_id", "site", "day", "views", "readers", "bots", "prefetches", "previews")
_PAGES = ("story_id", "page_url", "site", "first_seen", "last_seen", "views")


class PositionMoved(RuntimeError):
    """Another rollup advanced this segment first; this transaction must be dropped."""


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


def add_daily_stats(conn: sa.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Add counts to (story, site, day) rows, given as tuples of (story id, site, day,
    views, readers, bots, prefetches, previews), each key at most once."""
    if not rows:
        return
    temp = load_temp(conn, "batch_daily_stats", daily_stats, _STATS, rows)
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


def lock_reader_day(conn: sa.Connection, day: int) -> int:
    """Bump the version of ``day``'s reader keys and return it. The row stays locked until
    the transaction ends, so rollups write a day's keys one at a time; a caller whose own
    last write left the version one lower knows no other rollup wrote the day since."""
    statement = insert(conn, reader_days).values(day=day, version=1)
    statement = statement.on_conflict_do_update(
        index_elements=["day"], set_={"version": reader_days.c.version + 1}
    )
    return int(conn.execute(statement.returning(reader_days.c.version)).scalar_one())


def blocks_of_day(conn: sa.Connection, day: int) -> list[tuple[int, bytes]]:
    """The runs of reader keys stored for ``day`` (a day number): (block, packed keys)."""
    rows = conn.execute(
        sa.select(reader_blocks.c.block, reader_blocks.c.packed).where(reader_blocks.c.day == day)
    )
    return [(block, bytes(packed)) for block, packed in rows]


def write_reader_block(
    conn: sa.Connection, day: int, block: int, packed: bytes, replaces: Collection[int] = ()
) -> None:
    """Store a run of reader keys of ``day`` as ``block`` (a number no run of the day has),
    in place of the runs ``replaces`` (merged into it)."""
    if replaces:
        conn.execute(
            reader_blocks.delete().where(
                reader_blocks.c.day == day, reader_blocks.c.block.in_(list(replaces))
            )
        )
    conn.execute(reader_blocks.insert().values(day=day, block=block, packed=packed))


def add_dropped(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Add counts of hits that belong to no known story."""
    upsert_add(conn, dropped_daily, rows, keys=("day", "reason"), add=("hits",))


def add_republications(
    conn: sa.Connection, rows: Sequence[tuple[Any, ...]]
) -> list[tuple[str, str]]:
    """Add views to (story, page) rows, given as tuples of (story id, page URL, site, first
    seen, last seen, views), each page at most once; return the (story, site) pairs seen for
    the first time (a story's new republishers)."""
    if not rows:
        return []
    temp = load_temp(conn, "batch_republications", republications, _PAGES, rows)
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
    """Delete reader keys of days before ``day``; their salts are gone. Returns how many
    runs of keys went. The days' versions stay (a row per day): a version never starts
    again, so a rollup's copy of a day can never look current when it is not."""
    result = conn.execute(reader_blocks.delete().where(reader_blocks.c.day < day_number(day)))
    return result.rowcount
