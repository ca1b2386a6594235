"""Queries on stories, their revisions and editor overrides."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from republish.models import Extracted, Override, Revision, Story
from republish.store.errors import NotFound
from republish.store.schema import stories, story_overrides, story_revisions
from republish.urls import url_key

SaveStatus = Literal["new", "updated", "unchanged"]

# Crockford's base32 without easily confused letters: ids read well in URLs and logs.
_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
ID_LENGTH = 10


def new_story_id() -> str:
    """A random public story id (50 bits), e.g. ``"k3x9q2m7ab"``."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))


def content_hash(extracted: Extracted) -> str:
    """sha256 over what a reader sees; a change makes a new revision."""
    payload = json.dumps(
        [
            extracted.headline,
            extracted.dek,
            list(extracted.bylines),
            extracted.body_html,
            extracted.section,
            sorted(extracted.tags),
            extracted.origin.name if extracted.origin else "",
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _row_to_story(row: sa.RowMapping) -> Story:
    override = None
    if row["override_republishable"] is not None:
        override = Override(
            republishable=bool(row["override_republishable"]),
            reason=row["override_reason"] or "",
            actor=row["override_actor"] or "",
            at=row["override_at"],
        )
    return Story(
        id=row["id"],
        publisher_id=row["publisher_id"],
        canonical_url=row["canonical_url"],
        headline=row["headline"],
        dek=row["dek"],
        bylines=tuple(row["bylines"]),
        published_at=row["published_at"],
        updated_at=row["updated_at"],
        section=row["section"],
        tags=tuple(row["tags"]),
        origin=row["origin"],
        origin_evidence=row["origin_evidence"],
        body_html=row["body_html"],
        body_text=row["body_text"],
        content_hash=row["content_hash"],
        revision=row["revision"],
        override=override,
        created_at=row["created_at"],
        modified_at=row["modified_at"],
        withdrawn_at=row["withdrawn_at"],
        withdrawn_reason=row["withdrawn_reason"] or "",
    )


def get_story(conn: sa.Connection, story_id: str) -> Story:
    """The story with this id, or :class:`NotFound`."""
    row = conn.execute(sa.select(stories).where(stories.c.id == story_id)).mappings().first()
    if row is None:
        raise NotFound(f"no story with id {story_id!r}")
    return _row_to_story(row)


def find_story(conn: sa.Connection, publisher_id: int, url: str) -> Story | None:
    """The publisher's story whose canonical URL normalises like ``url``, if any."""
    row = (
        conn.execute(
            sa.select(stories).where(
                stories.c.publisher_id == publisher_id, stories.c.url_key == url_key(url)
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else _row_to_story(row)


def list_stories(
    conn: sa.Connection, publisher_id: int | None = None, limit: int = 100, offset: int = 0
) -> list[Story]:
    """Stories, newest first (by publication date, then by when we stored them)."""
    query = sa.select(stories)
    if publisher_id is not None:
        query = query.where(stories.c.publisher_id == publisher_id)
    query = query.order_by(
        sa.func.coalesce(stories.c.published_at, stories.c.created_at).desc(), stories.c.id
    )
    rows = conn.execute(query.limit(limit).offset(offset)).mappings()
    return [_row_to_story(row) for row in rows]


def _content_values(extracted: Extracted, digest: str) -> dict[str, Any]:
    return {
        "canonical_url": extracted.canonical_url,
        "url_key": url_key(extracted.canonical_url),
        "headline": extracted.headline,
        "dek": extracted.dek,
        "bylines": list(extracted.bylines),
        "published_at": extracted.published_at,
        "updated_at": extracted.updated_at,
        "section": extracted.section,
        "tags": list(extracted.tags),
        "origin": extracted.origin.name if extracted.origin else "",
        "origin_evidence": extracted.origin.evidence if extracted.origin else "",
        "body_html": extracted.body_html,
        "body_text": extracted.body_text,
        "content_hash": digest,
    }


def save_story(
    conn: sa.Connection,
    publisher_id: int,
    extracted: Extracted,
    source: str,
    now: datetime,
) -> tuple[Story, SaveStatus]:
    """Store an extracted story: new, a new revision if its content changed, or unchanged.

    The story is found by its canonical URL. Call inside a transaction.
    """
    if not extracted.canonical_url:
        raise ValueError("a story needs a canonical URL")
    digest = content_hash(extracted)
    existing = find_story(conn, publisher_id, extracted.canonical_url)
    values = _content_values(extracted, digest)
    if existing is None:
        story_id = new_story_id()
        while conn.execute(sa.select(stories.c.id).where(stories.c.id == story_id)).first():
            story_id = new_story_id()
        try:
            # In a savepoint: when another transaction stored the same URL meanwhile (two
            # sources listing one story), that story is updated instead.
            with conn.begin_nested():
                conn.execute(
                    stories.insert().values(
                        id=story_id,
                        publisher_id=publisher_id,
                        revision=1,
                        created_at=now,
                        modified_at=now,
                        **values,
                    )
                )
        except sa.exc.IntegrityError:
            existing = find_story(conn, publisher_id, extracted.canonical_url)
            if existing is None:
                raise
        else:
            _insert_revision(conn, story_id, 1, extracted, digest, source, now)
            return get_story(conn, story_id), "new"
    if existing.content_hash == digest:
        return existing, "unchanged"
    revision = existing.revision + 1
    conn.execute(
        stories.update()
        .where(stories.c.id == existing.id)
        .values(revision=revision, modified_at=now, **values)
    )
    _insert_revision(conn, existing.id, revision, extracted, digest, source, now)
    return get_story(conn, existing.id), "updated"


def set_withdrawn(conn: sa.Connection, story_id: str, reason: str | None, now: datetime) -> Story:
    """Mark a story withdrawn with ``reason``, or (``reason`` None) offered again.

    Withdrawing an already withdrawn story keeps its first date and reason.
    """
    story = get_story(conn, story_id)
    if reason is None:
        values: dict[str, Any] = {"withdrawn_at": None, "withdrawn_reason": ""}
    elif story.withdrawn_at is not None:
        return story
    else:
        values = {"withdrawn_at": now, "withdrawn_reason": reason}
    conn.execute(stories.update().where(stories.c.id == story_id).values(**values))
    return get_story(conn, story_id)


def get_revision(conn: sa.Connection, story_id: str, revision: int) -> Revision:
    """One revision of a story, or :class:`NotFound`."""
    for found in list_revisions(conn, story_id, only=revision):
        return found
    raise NotFound(f"story {story_id!r} has no revision {revision}")


def _insert_revision(
    conn: sa.Connection,
    story_id: str,
    revision: int,
    extracted: Extracted,
    digest: str,
    source: str,
    now: datetime,
) -> None:
    conn.execute(
        story_revisions.insert().values(
            story_id=story_id,
            revision=revision,
            content_hash=digest,
            headline=extracted.headline,
            dek=extracted.dek,
            bylines=list(extracted.bylines),
            body_html=extracted.body_html,
            body_text=extracted.body_text,
            source=source,
            created_at=now,
        )
    )


def list_revisions(
    conn: sa.Connection, story_id: str, *, only: int | None = None
) -> list[Revision]:
    """Every stored revision of a story, oldest first (or just revision ``only``)."""
    query = sa.select(story_revisions).where(story_revisions.c.story_id == story_id)
    if only is not None:
        query = query.where(story_revisions.c.revision == only)
    rows = conn.execute(query.order_by(story_revisions.c.revision)).mappings()
    return [
        Revision(
            story_id=row["story_id"],
            revision=row["revision"],
            content_hash=row["content_hash"],
            headline=row["headline"],
            dek=row["dek"],
            bylines=tuple(row["bylines"]),
            body_html=row["body_html"],
            body_text=row["body_text"],
            source=row["source"],
            created_at=row["created_at"],
        )
        for row in rows
    ]


def set_override(
    conn: sa.Connection,
    story_id: str,
    republishable: bool | None,
    reason: str,
    actor: str,
    now: datetime,
) -> Story:
    """Record an editor's override (``None`` clears it) and apply it to the story."""
    result = conn.execute(
        stories.update()
        .where(stories.c.id == story_id)
        .values(
            override_republishable=republishable,
            override_reason=None if republishable is None else reason,
            override_actor=None if republishable is None else actor,
            override_at=None if republishable is None else now,
        )
    )
    if result.rowcount == 0:
        raise NotFound(f"no story with id {story_id!r}")
    conn.execute(
        story_overrides.insert().values(
            story_id=story_id, republishable=republishable, reason=reason, actor=actor, at=now
        )
    )
    return get_story(conn, story_id)


def list_overrides(conn: sa.Connection, story_id: str) -> list[dict[str, Any]]:
    """The override history of a story, oldest first."""
    rows = conn.execute(
        sa.select(story_overrides)
        .where(story_overrides.c.story_id == story_id)
        .order_by(story_overrides.c.id)
    ).mappings()
    return [
        {
            "republishable": row["republishable"],
            "reason": row["reason"],
            "actor": row["actor"],
            "at": row["at"],
        }
        for row in rows
    ]
