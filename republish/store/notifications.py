"""Queries for notification targets and the notification outbox."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from republish.store.dialect import insert_new
from republish.store.errors import NotFound
from republish.store.schema import (
    notification_targets,
    notifications,
    publishers,
    republications,
    stories,
)

NEW_REPUBLISHER = "new_republisher"
WEBHOOK = "webhook"
EMAIL = "email"


@dataclass(frozen=True)
class Target:
    """Where a publisher wants to hear about new republishers."""

    id: int
    publisher_id: int
    publisher_slug: str
    kind: str  # WEBHOOK | EMAIL
    address: str  # URL or e-mail address
    secret: str | None  # webhook signing key (never logged)
    created_at: datetime

    def __repr__(self) -> str:
        return f"Target(id={self.id}, kind={self.kind!r}, publisher={self.publisher_slug!r})"


@dataclass(frozen=True)
class Outgoing:
    """One due outbox row with everything its message needs."""

    id: int
    target: Target
    event: str
    story_id: str
    headline: str
    canonical_url: str
    site: str
    page_url: str
    first_seen: datetime | None
    attempts: int
    next_attempt_at: datetime
    created_at: datetime


def _target_query() -> sa.Select[Any]:
    return sa.select(notification_targets, publishers.c.slug.label("publisher_slug")).join(
        publishers, publishers.c.id == notification_targets.c.publisher_id
    )


def _target(row: sa.RowMapping) -> Target:
    return Target(
        id=row["id"],
        publisher_id=row["publisher_id"],
        publisher_slug=row["publisher_slug"],
        kind=row["kind"],
        address=row["address"],
        secret=row["secret"],
        created_at=row["created_at"],
    )


def add_target(
    conn: sa.Connection,
    publisher_id: int,
    kind: str,
    address: str,
    secret: str | None,
    now: datetime,
) -> Target:
    """Store a target (inputs already validated)."""
    target_id = conn.execute(
        notification_targets.insert()
        .values(
            publisher_id=publisher_id, kind=kind, address=address, secret=secret, created_at=now
        )
        .returning(notification_targets.c.id)
    ).scalar_one()
    return get_target(conn, target_id)


def get_target(conn: sa.Connection, target_id: int) -> Target:
    """One target; :class:`NotFound` if there is none with this id."""
    row = (
        conn.execute(_target_query().where(notification_targets.c.id == target_id))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no notification target {target_id}")
    return _target(row)


def list_targets(conn: sa.Connection, publisher_id: int | None = None) -> list[Target]:
    """Every target (of one publisher), oldest first."""
    query = _target_query().order_by(notification_targets.c.id)
    if publisher_id is not None:
        query = query.where(notification_targets.c.publisher_id == publisher_id)
    return [_target(row) for row in conn.execute(query).mappings()]


def remove_target(conn: sa.Connection, target_id: int) -> None:
    """Delete a target and its outbox rows; :class:`NotFound` if there is none."""
    get_target(conn, target_id)
    conn.execute(notifications.delete().where(notifications.c.target_id == target_id))
    conn.execute(notification_targets.delete().where(notification_targets.c.id == target_id))


def enqueue_new_republishers(
    conn: sa.Connection, pairs: Iterable[tuple[str, str]], now: datetime
) -> int:
    """One outbox row per (target of the story's publisher, new republisher); idempotent.

    Called in the rollup's transaction, so the rows exist exactly when the counts do.
    Returns how many rows were added.
    """
    wanted = sorted(set(pairs))
    if not wanted:
        return 0
    by_story: dict[str, list[str]] = {}
    for story_id, site in wanted:
        by_story.setdefault(story_id, []).append(site)
    rows: list[dict[str, Any]] = []
    story_ids = sorted(by_story)
    for start in range(0, len(story_ids), 500):
        chunk = story_ids[start : start + 500]
        found = conn.execute(
            sa.select(stories.c.id, notification_targets.c.id)
            .join(
                notification_targets,
                notification_targets.c.publisher_id == stories.c.publisher_id,
            )
            .where(stories.c.id.in_(chunk))
        )
        for story_id, target_id in found:
            for site in by_story[story_id]:
                rows.append(
                    {
                        "target_id": target_id,
                        "event": NEW_REPUBLISHER,
                        "story_id": story_id,
                        "site": site,
                        "created_at": now,
                        "attempts": 0,
                        "next_attempt_at": now,
                    }
                )
    inserted = insert_new(
        conn, notifications, rows, keys=("target_id", "event", "story_id", "site")
    )
    return len(inserted)


def due(conn: sa.Connection, now: datetime, max_attempts: int, limit: int = 100) -> list[Outgoing]:
    """Unsent rows whose next attempt is due and that have attempts left, oldest first."""
    query = (
        sa.select(
            notifications,
            stories.c.headline,
            stories.c.canonical_url,
        )
        .join(stories, stories.c.id == notifications.c.story_id)
        .where(
            notifications.c.sent_at.is_(None),
            notifications.c.next_attempt_at <= now,
            notifications.c.attempts < max_attempts,
        )
        .order_by(notifications.c.next_attempt_at, notifications.c.id)
        .limit(limit)
    )
    rows = conn.execute(query).mappings().all()
    targets = {t.id: t for t in list_targets(conn)} if rows else {}
    found = []
    for row in rows:
        page = conn.execute(
            sa.select(republications.c.page_url, republications.c.first_seen)
            .where(
                republications.c.story_id == row["story_id"],
                republications.c.site == row["site"],
            )
            .order_by(republications.c.first_seen, republications.c.page_url)
            .limit(1)
        ).first()
        found.append(
            Outgoing(
                id=row["id"],
                target=targets[row["target_id"]],
                event=row["event"],
                story_id=row["story_id"],
                headline=row["headline"],
                canonical_url=row["canonical_url"],
                site=row["site"],
                page_url=page[0] if page else "",
                first_seen=page[1] if page else None,
                attempts=row["attempts"],
                next_attempt_at=row["next_attempt_at"],
                created_at=row["created_at"],
            )
        )
    return found


def claim(conn: sa.Connection, notification_id: int, seen_next: datetime, until: datetime) -> bool:
    """Take a due row for sending by moving its next attempt to ``until``; False when
    another delivery pass changed it since it was read."""
    result = conn.execute(
        notifications.update()
        .where(
            notifications.c.id == notification_id,
            notifications.c.next_attempt_at == seen_next,
            notifications.c.sent_at.is_(None),
        )
        .values(next_attempt_at=until)
    )
    return result.rowcount == 1


def mark_sent(conn: sa.Connection, notification_id: int, now: datetime) -> None:
    """Record a delivery."""
    conn.execute(
        notifications.update()
        .where(notifications.c.id == notification_id)
        .values(sent_at=now, attempts=notifications.c.attempts + 1, last_error=None)
    )


def mark_failed(
    conn: sa.Connection, notification_id: int, error: str, next_attempt_at: datetime
) -> None:
    """Record a failed attempt and when to try again."""
    conn.execute(
        notifications.update()
        .where(notifications.c.id == notification_id)
        .values(
            attempts=notifications.c.attempts + 1,
            last_error=error[:1000],
            next_attempt_at=next_attempt_at,
        )
    )


def list_notifications(conn: sa.Connection, target_id: int | None = None) -> list[dict[str, Any]]:
    """Outbox rows (of one target), oldest first, as plain dicts."""
    query = sa.select(notifications).order_by(notifications.c.id)
    if target_id is not None:
        query = query.where(notifications.c.target_id == target_id)
    return [dict(row) for row in conn.execute(query).mappings()]
