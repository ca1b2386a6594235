"""Queries for the hit rollups: log positions and the summary tables."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from republish.store.dialect import insert_new, upsert_add
from republish.store.schema import (
    daily_stats,
    daily_visitors,
    dropped_daily,
    hit_log_positions,
    publishers,
    republications,
    stories,
)


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


def add_daily_stats(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Add counts to (story, site, day) rows."""
    upsert_add(
        conn,
        daily_stats,
        rows,
        keys=("story_id", "site", "day"),
        add=("views", "readers", "bots", "prefetches", "previews"),
    )


def add_visitors(conn: sa.Connection, rows: list[dict[str, Any]]) -> list[tuple[date, str, str]]:
    """Record visitor hashes; return (day, story, site) of each one not seen before."""
    inserted = insert_new(conn, daily_visitors, rows, keys=("day", "story_id", "site", "visitor"))
    return [(row.day, row.story_id, row.site) for row in inserted]


def add_dropped(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Add counts of hits that belong to no known story."""
    upsert_add(conn, dropped_daily, rows, keys=("day", "reason"), add=("hits",))


def add_republications(conn: sa.Connection, rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Add views to (story, page) rows; return the (story, site) pairs seen for the first
    time (a story's new republishers)."""
    if not rows:
        return []
    pairs = {(row["story_id"], row["site"]) for row in rows}
    known: set[tuple[str, str]] = set()
    story_ids = sorted({story for story, _ in pairs})
    for start in range(0, len(story_ids), 500):
        chunk = story_ids[start : start + 500]
        seen = conn.execute(
            sa.select(republications.c.story_id, republications.c.site)
            .where(republications.c.story_id.in_(chunk))
            .distinct()
        )
        known |= {(story, site) for story, site in seen}
    upsert_add(
        conn,
        republications,
        rows,
        keys=("story_id", "page_url"),
        add=("views",),
        greatest=("last_seen",),
        least=("first_seen",),
    )
    return sorted(pairs - known)


def delete_visitors_before(conn: sa.Connection, day: date) -> int:
    """Delete visitor hashes of days before ``day``; their salts are gone."""
    result = conn.execute(daily_visitors.delete().where(daily_visitors.c.day < day))
    return result.rowcount
