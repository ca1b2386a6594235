"""Queries on story sources and on which stories each source has listed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from republish.models import Source
from republish.store.errors import Conflict, NotFound
from republish.store.schema import sources, stories, story_sources


def _row_to_source(row: sa.RowMapping) -> Source:
    result = row["last_result"]
    return Source(
        id=row["id"],
        publisher_id=row["publisher_id"],
        kind=row["kind"],
        url=row["url"],
        interval_s=row["interval_s"],
        next_poll_at=row["next_poll_at"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        last_polled_at=row["last_polled_at"],
        last_result=dict(result) if isinstance(result, dict) else None,
        last_error=row["last_error"],
        created_at=row["created_at"],
    )


def add_source(
    conn: sa.Connection, publisher_id: int, kind: str, url: str, interval_s: int, now: datetime
) -> Source:
    """Register a source, due at once; :class:`Conflict` if the publisher already has it."""
    taken = conn.execute(
        sa.select(sources.c.id).where(
            sources.c.publisher_id == publisher_id, sources.c.kind == kind, sources.c.url == url
        )
    ).first()
    if taken is not None:
        raise Conflict(f"this publisher already has {kind} source {url} (id {taken[0]})")
    inserted = conn.execute(
        sources.insert().values(
            publisher_id=publisher_id,
            kind=kind,
            url=url,
            interval_s=interval_s,
            next_poll_at=now,
            created_at=now,
        )
    ).inserted_primary_key
    assert inserted is not None
    return get_source(conn, int(inserted[0]))


def get_source(conn: sa.Connection, source_id: int) -> Source:
    """The source with this id, or :class:`NotFound`."""
    row = conn.execute(sa.select(sources).where(sources.c.id == source_id)).mappings().first()
    if row is None:
        raise NotFound(f"no source with id {source_id}")
    return _row_to_source(row)


def list_sources(conn: sa.Connection, publisher_id: int | None = None) -> list[Source]:
    """Sources (of one publisher, or all), by id."""
    query = sa.select(sources)
    if publisher_id is not None:
        query = query.where(sources.c.publisher_id == publisher_id)
    return [_row_to_source(row) for row in conn.execute(query.order_by(sources.c.id)).mappings()]


def remove_source(conn: sa.Connection, source_id: int) -> None:
    """Forget a source (its stories stay); :class:`NotFound` if there is none."""
    conn.execute(story_sources.delete().where(story_sources.c.source_id == source_id))
    if conn.execute(sources.delete().where(sources.c.id == source_id)).rowcount == 0:
        raise NotFound(f"no source with id {source_id}")


def claim_due(
    conn: sa.Connection,
    now: datetime,
    *,
    publisher_id: int | None = None,
    limit: int = 100,
) -> list[Source]:
    """Sources due at ``now``, each moved to its next slot so no other poller takes it.

    A source is taken only if its ``next_poll_at`` is still the one read (two pollers
    never claim the same source). Call inside a transaction.
    """
    query = sa.select(sources).where(sources.c.next_poll_at <= now)
    if publisher_id is not None:
        query = query.where(sources.c.publisher_id == publisher_id)
    rows = conn.execute(query.order_by(sources.c.next_poll_at).limit(limit)).mappings().all()
    claimed = []
    for row in rows:
        source = _row_to_source(row)
        taken = conn.execute(
            sources.update()
            .where(sources.c.id == source.id, sources.c.next_poll_at == source.next_poll_at)
            .values(next_poll_at=now + timedelta(seconds=source.interval_s))
        ).rowcount
        if taken:
            claimed.append(source)
    return claimed


def next_due_at(conn: sa.Connection, publisher_id: int | None = None) -> datetime | None:
    """When the next source is due (None when there are no sources)."""
    query = sa.select(sa.func.min(sources.c.next_poll_at))
    if publisher_id is not None:
        query = query.where(sources.c.publisher_id == publisher_id)
    value: datetime | None = conn.execute(query).scalar()  # min() keeps the column's type
    return value


def record_success(
    conn: sa.Connection,
    source_id: int,
    now: datetime,
    result: dict[str, int],
    *,
    etag: str | None,
    last_modified: str | None,
) -> None:
    """Store a good poll: the new validators, its counts; clear the last error."""
    conn.execute(
        sources.update()
        .where(sources.c.id == source_id)
        .values(
            etag=etag,
            last_modified=last_modified,
            last_polled_at=now,
            last_result=result,
            last_error=None,
        )
    )


def record_failure(conn: sa.Connection, source_id: int, now: datetime, error: str) -> None:
    """Store a failed poll: the error; the validators stay those of the last good read."""
    conn.execute(
        sources.update()
        .where(sources.c.id == source_id)
        .values(last_polled_at=now, last_error=error)
    )


def mark_seen(
    conn: sa.Connection,
    source_id: int,
    story_ids: Iterable[str],
    now: datetime,
    *,
    checked: bool = False,
) -> None:
    """Record that the source listed these stories at ``now`` (and, with ``checked``,
    that their content was read then)."""
    rows: list[dict[str, Any]] = [
        {
            "story_id": story_id,
            "source_id": source_id,
            "last_seen_at": now,
            "checked_at": now if checked else None,
        }
        for story_id in dict.fromkeys(story_ids)
    ]
    if not rows:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(story_sources)
    updates: dict[str, Any] = {"last_seen_at": statement.excluded.last_seen_at}
    if checked:
        updates["checked_at"] = statement.excluded.checked_at
    conn.execute(
        statement.on_conflict_do_update(index_elements=["story_id", "source_id"], set_=updates),
        rows,
    )


def checked_at(conn: sa.Connection, source_id: int, story_id: str) -> datetime | None:
    """When the story's content was last read through this source, if ever."""
    value: datetime | None = conn.execute(
        sa.select(story_sources.c.checked_at).where(
            story_sources.c.source_id == source_id, story_sources.c.story_id == story_id
        )
    ).scalar()
    return value


def source_stories(conn: sa.Connection, source_id: int) -> list[tuple[str, str]]:
    """(story id, canonical URL) of every story the source has listed."""
    rows = conn.execute(
        sa.select(stories.c.id, stories.c.canonical_url)
        .join(story_sources, story_sources.c.story_id == stories.c.id)
        .where(story_sources.c.source_id == source_id)
        .order_by(stories.c.id)
    )
    return [(row[0], row[1]) for row in rows]
