"""Queries on the publishers table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from republish.models import Licence, Publisher, SiteProfile
from republish.store.errors import Conflict, NotFound
from republish.store.schema import publishers


def _row_to_publisher(row: sa.RowMapping) -> Publisher:
    return Publisher(
        id=row["id"],
        slug=row["slug"],
        name=row["name"],
        home_url=row["home_url"],
        domains=tuple(row["domains"]),
        licence=Licence(row["licence"]),
        credit_template=row["credit_template"],
        guidelines_md=row["guidelines_md"],
        canonical_guide_md=row["canonical_guide_md"],
        contact_email=row["contact_email"],
        excluded_origins=tuple(row["excluded_origins"]),
        excluded_sections=tuple(row["excluded_sections"]),
        excluded_tags=tuple(row["excluded_tags"]),
        excluded_authors=tuple(row["excluded_authors"]),
        show_reason=bool(row["show_reason"]),
        site_profile=profile_from_json(row["site_profile"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def profile_to_json(profile: SiteProfile | None) -> dict[str, Any] | None:
    """A site profile as stored (and shown): its selectors, or None when there is none."""
    if profile is None or profile.is_empty():
        return None
    return {
        "body": profile.body,
        "headline": profile.headline,
        "byline": profile.byline,
        "published": profile.published,
        "exclude": list(profile.exclude),
    }


def profile_from_json(value: Any) -> SiteProfile | None:
    """The stored form back as a :class:`SiteProfile` (None when none is stored)."""
    if not isinstance(value, dict):
        return None
    profile = SiteProfile(
        body=str(value.get("body") or ""),
        headline=str(value.get("headline") or ""),
        byline=str(value.get("byline") or ""),
        published=str(value.get("published") or ""),
        exclude=tuple(str(item) for item in value.get("exclude") or ()),
    )
    return None if profile.is_empty() else profile


def set_site_profile(
    conn: sa.Connection, slug: str, profile: SiteProfile | None, now: datetime
) -> Publisher:
    """Store (or, with None or an empty profile, clear) a publisher's site profile."""
    result = conn.execute(
        publishers.update()
        .where(publishers.c.slug == slug)
        .values(site_profile=profile_to_json(profile) or sa.null(), updated_at=now)
    )
    if result.rowcount == 0:
        raise NotFound(f"no publisher with slug {slug!r}")
    return get_publisher(conn, slug)


def publisher_values(publisher: Publisher) -> dict[str, Any]:
    """The stored fields of a publisher as plain JSON-able values (no id, dates, token)."""
    return {
        "slug": publisher.slug,
        "name": publisher.name,
        "home_url": publisher.home_url,
        "domains": list(publisher.domains),
        "licence": publisher.licence.value,
        "credit_template": publisher.credit_template,
        "guidelines_md": publisher.guidelines_md,
        "canonical_guide_md": publisher.canonical_guide_md,
        "contact_email": publisher.contact_email,
        "excluded_origins": list(publisher.excluded_origins),
        "excluded_sections": list(publisher.excluded_sections),
        "excluded_tags": list(publisher.excluded_tags),
        "excluded_authors": list(publisher.excluded_authors),
        "show_reason": publisher.show_reason,
    }


def insert_publisher(
    conn: sa.Connection, publisher: Publisher, now: datetime, api_token_sha256: str | None = None
) -> Publisher:
    """Store a new publisher; raise :class:`Conflict` if its slug is taken."""
    if conn.execute(sa.select(publishers.c.id).where(publishers.c.slug == publisher.slug)).first():
        raise Conflict(f"a publisher with slug {publisher.slug!r} already exists")
    values = publisher_values(publisher) | {
        "created_at": now,
        "updated_at": now,
        "api_token_sha256": api_token_sha256,
    }
    new_id = conn.execute(publishers.insert().values(**values)).inserted_primary_key
    assert new_id is not None
    return get_publisher_by_id(conn, int(new_id[0]))


def update_publisher(conn: sa.Connection, publisher: Publisher, now: datetime) -> Publisher:
    """Store changed fields of an existing publisher (found by id)."""
    if publisher.id is None:
        raise NotFound("publisher has no id")
    values = publisher_values(publisher) | {"updated_at": now}
    result = conn.execute(
        publishers.update().where(publishers.c.id == publisher.id).values(**values)
    )
    if result.rowcount == 0:
        raise NotFound(f"no publisher with id {publisher.id}")
    return get_publisher_by_id(conn, publisher.id)


def set_api_token(conn: sa.Connection, slug: str, token_sha256: str, now: datetime) -> None:
    """Replace a publisher's API token hash (the old token stops working)."""
    result = conn.execute(
        publishers.update()
        .where(publishers.c.slug == slug)
        .values(api_token_sha256=token_sha256, updated_at=now)
    )
    if result.rowcount == 0:
        raise NotFound(f"no publisher with slug {slug!r}")


def get_publisher(conn: sa.Connection, slug: str) -> Publisher:
    """The publisher with this slug, or :class:`NotFound`."""
    row = conn.execute(sa.select(publishers).where(publishers.c.slug == slug)).mappings().first()
    if row is None:
        raise NotFound(f"no publisher with slug {slug!r}")
    return _row_to_publisher(row)


def get_publisher_by_id(conn: sa.Connection, publisher_id: int) -> Publisher:
    """The publisher with this id, or :class:`NotFound`."""
    row = (
        conn.execute(sa.select(publishers).where(publishers.c.id == publisher_id))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no publisher with id {publisher_id}")
    return _row_to_publisher(row)


def publisher_by_token(conn: sa.Connection, token_sha256: str) -> Publisher | None:
    """The publisher whose API token hashes to ``token_sha256``, if any."""
    row = (
        conn.execute(sa.select(publishers).where(publishers.c.api_token_sha256 == token_sha256))
        .mappings()
        .first()
    )
    return None if row is None else _row_to_publisher(row)


def list_publishers(conn: sa.Connection) -> list[Publisher]:
    """Every publisher, by slug."""
    rows = conn.execute(sa.select(publishers).order_by(publishers.c.slug)).mappings()
    return [_row_to_publisher(row) for row in rows]
