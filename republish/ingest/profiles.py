"""Store a publisher's site profile once every selector in it is valid CSS."""

from __future__ import annotations

from datetime import UTC, datetime

from republish.ingest._profile import ProfileError, check_profile
from republish.models import Publisher, SiteProfile
from republish.store import publishers as publisher_store
from republish.store.db import Database

__all__ = ["ProfileError", "save_site_profile"]


def save_site_profile(
    db: Database, publisher_slug: str, profile: SiteProfile | None, now: datetime | None = None
) -> Publisher:
    """Set (or, with None or an empty profile, clear) a publisher's site profile.

    Raises :class:`ProfileError` naming the first selector that is not valid CSS, and
    :class:`~republish.store.errors.NotFound` for an unknown publisher; nothing is stored
    then.
    """
    if profile is not None:
        profile = SiteProfile(
            body=profile.body.strip(),
            headline=profile.headline.strip(),
            byline=profile.byline.strip(),
            published=profile.published.strip(),
            exclude=tuple(item.strip() for item in profile.exclude if item.strip()),
        )
        check_profile(profile)
    with db.begin() as conn:
        return publisher_store.set_site_profile(
            conn, publisher_slug, profile, now or datetime.now(UTC)
        )
