"""The tables, as SQLAlchemy Core objects. Migrations create them; queries use them."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every dialect (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = sa.MetaData()

publishers = sa.Table(
    "publishers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("slug", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("home_url", sa.String(2000), nullable=False, server_default=""),
    sa.Column("domains", sa.JSON, nullable=False),
    sa.Column("licence", sa.String(40), nullable=False),
    sa.Column("credit_template", sa.Text, nullable=False),
    sa.Column("guidelines_md", sa.Text, nullable=False),
    sa.Column("canonical_guide_md", sa.Text, nullable=False),
    sa.Column("contact_email", sa.String(320), nullable=False),
    sa.Column("excluded_origins", sa.JSON, nullable=False),
    sa.Column("excluded_sections", sa.JSON, nullable=False),
    sa.Column("excluded_tags", sa.JSON, nullable=False),
    sa.Column("excluded_authors", sa.JSON, nullable=False),
    sa.Column("show_reason", sa.Boolean, nullable=False),
    # sha256 of the publisher's API token; the token itself is shown once and never stored.
    sa.Column("api_token_sha256", sa.String(64), nullable=True, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # CSS selectors for extraction on the publisher's own pages (models.SiteProfile), or NULL.
    sa.Column("site_profile", sa.JSON, nullable=True),
)

stories = sa.Table(
    "stories",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column(
        "publisher_id",
        sa.Integer,
        sa.ForeignKey("publishers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("canonical_url", sa.String(2000), nullable=False),
    # Normalised canonical URL (see republish.urls.url_key): the lookup key.
    sa.Column("url_key", sa.String(2000), nullable=False),
    sa.Column("headline", sa.Text, nullable=False),
    sa.Column("dek", sa.Text, nullable=False),
    sa.Column("bylines", sa.JSON, nullable=False),
    sa.Column("published_at", UTCDateTime(), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=True),
    sa.Column("section", sa.String(200), nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("origin", sa.String(200), nullable=False),
    sa.Column("origin_evidence", sa.Text, nullable=False),
    sa.Column("body_html", sa.Text, nullable=False),
    sa.Column("body_text", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("override_republishable", sa.Boolean, nullable=True),
    sa.Column("override_reason", sa.Text, nullable=True),
    sa.Column("override_actor", sa.String(200), nullable=True),
    sa.Column("override_at", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("modified_at", UTCDateTime(), nullable=False),
    # Set when the story is gone at its source; a withdrawn story is not offered.
    sa.Column("withdrawn_at", UTCDateTime(), nullable=True),
    sa.Column("withdrawn_reason", sa.Text, nullable=False, server_default=""),
    sa.UniqueConstraint("publisher_id", "url_key", name="uq_stories_publisher_url"),
)

story_revisions = sa.Table(
    "story_revisions",
    metadata,
    sa.Column(
        "story_id",
        sa.String(16),
        sa.ForeignKey("stories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("revision", sa.Integer, primary_key=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("headline", sa.Text, nullable=False),
    sa.Column("dek", sa.Text, nullable=False),
    sa.Column("bylines", sa.JSON, nullable=False),
    sa.Column("body_html", sa.Text, nullable=False),
    sa.Column("body_text", sa.Text, nullable=False),
    sa.Column("source", sa.String(40), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# Every editor override, kept: who decided what, when and why.
story_overrides = sa.Table(
    "story_overrides",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "story_id",
        sa.String(16),
        sa.ForeignKey("stories.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    # NULL: the override was cleared and the automatic policy applies again.
    sa.Column("republishable", sa.Boolean, nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
)

# How far the rollup has read each hit log segment. Updated in the same transaction as
# the rollups it produced, so a hit is counted exactly once, even across crashes.
hit_log_positions = sa.Table(
    "hit_log_positions",
    metadata,
    sa.Column("segment", sa.String(200), primary_key=True),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("hits", sa.BigInteger, nullable=False),
    sa.Column("damaged", sa.BigInteger, nullable=False),
    sa.Column("sealed", sa.Boolean, nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# Story x republisher site x day. The dashboard reads these, never raw hits.
daily_stats = sa.Table(
    "daily_stats",
    metadata,
    sa.Column("story_id", sa.String(32), primary_key=True),
    sa.Column("site", sa.String(255), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("views", sa.BigInteger, nullable=False),
    sa.Column("readers", sa.BigInteger, nullable=False),
    sa.Column("bots", sa.BigInteger, nullable=False),
    sa.Column("prefetches", sa.BigInteger, nullable=False),
    sa.Column("previews", sa.BigInteger, nullable=False),
    # The story's publisher, copied so that dashboard queries need no join or IN list.
    sa.Column("publisher_id", sa.Integer, nullable=False),
    sa.Index("ix_daily_stats_publisher_day", "publisher_id", "day"),
    sa.Index("ix_daily_stats_publisher_site_day", "publisher_id", "site", "day"),
    sa.Index("ix_daily_stats_publisher_story_day", "publisher_id", "story_id", "day"),
)

# Hits that belong to no story we know (unknown ids, malformed requests), per day.
dropped_daily = sa.Table(
    "dropped_daily",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("reason", sa.String(40), primary_key=True),
    sa.Column("hits", sa.BigInteger, nullable=False),
)

# One row per (story, republishing page): where a story ran.
republications = sa.Table(
    "republications",
    metadata,
    sa.Column("story_id", sa.String(32), primary_key=True),
    sa.Column("page_url", sa.String(2000), primary_key=True),
    sa.Column("site", sa.String(255), nullable=False),
    sa.Column("first_seen", UTCDateTime(), nullable=False),
    sa.Column("last_seen", UTCDateTime(), nullable=False),
    sa.Column("views", sa.BigInteger, nullable=False),
    sa.Column("publisher_id", sa.Integer, nullable=False),
    # A story's pages on one site (new-republisher checks, notifications).
    sa.Index("ix_republications_story_site", "story_id", "site", "first_seen"),
    sa.Index("ix_republications_publisher_site", "publisher_id", "site", "first_seen"),
)

# Readers seen on recent days, only to count unique readers: one 64-bit key per (story,
# site, visitor hash) and day (see ``store.hits.reader_key``), kept per day as a few sorted
# runs of keys (``stats.readers``: little-endian signed 8-byte integers, one row per run).
# Days older than two days are deleted (their salts are gone, so they identify no one).
reader_blocks = sa.Table(
    "reader_blocks",
    metadata,
    sa.Column("day", sa.Integer, primary_key=True),  # days since 1970-01-01, UTC
    sa.Column("block", sa.BigInteger, primary_key=True),  # the day's version that wrote it
    sa.Column("packed", sa.LargeBinary, nullable=False),
)

# One row per day that had reader keys: a rollup bumps ``version`` (and so locks the row)
# before it writes the day's runs, which serializes rollups per day and tells each whether
# the runs it holds in memory are still the stored ones. Rows stay when the day's keys are
# deleted, so that a day's version never starts over.
reader_days = sa.Table(
    "reader_days",
    metadata,
    sa.Column("day", sa.Integer, primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
)

# Dashboard users. A user belongs to one publisher, or to none (an administrator who sees
# every publisher). Passwords are argon2 hashes; sessions are in ``dashboard_sessions``.
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column(
        "publisher_id",
        sa.Integer,
        sa.ForeignKey("publishers.id", ondelete="CASCADE"),
        nullable=True,
    ),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_login_at", UTCDateTime(), nullable=True),
)

# Open dashboard sessions, one row per login. The signed cookie carries a random session
# id; only its SHA-256 is stored, so a copy of this table logs no one in. Logging out
# deletes the row, which ends the session for every copy of the cookie.
dashboard_sessions = sa.Table(
    "dashboard_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Index("ix_dashboard_sessions_user", "user_id"),
    sa.Index("ix_dashboard_sessions_expires_at", "expires_at"),
)

# Where a publisher wants to hear about new republishers.
notification_targets = sa.Table(
    "notification_targets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "publisher_id",
        sa.Integer,
        sa.ForeignKey("publishers.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("kind", sa.String(16), nullable=False),  # "webhook" | "email"
    sa.Column("address", sa.String(2000), nullable=False),  # URL or e-mail address
    # HMAC key for webhook signatures (shared with the receiver, so it is kept).
    sa.Column("secret", sa.String(200), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# The outbox: one row per (event, target), written in the rollup's transaction and
# delivered afterwards with retries, so no notification is lost or sent twice on success.
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "target_id",
        sa.Integer,
        sa.ForeignKey("notification_targets.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("event", sa.String(40), nullable=False),  # "new_republisher"
    sa.Column("story_id", sa.String(32), nullable=False),
    sa.Column("site", sa.String(255), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("sent_at", UTCDateTime(), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.UniqueConstraint("target_id", "event", "story_id", "site", name="uq_notifications_event"),
    sa.Index("ix_notifications_due", "sent_at", "next_attempt_at"),
)

# Where a publisher's stories come from: feeds, WordPress sites, sitemaps, single pages.
# The validators (ETag, Last-Modified) of the last good read make the next one conditional.
sources = sa.Table(
    "sources",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "publisher_id",
        sa.Integer,
        sa.ForeignKey("publishers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("kind", sa.String(16), nullable=False),  # "feed" | "wordpress" | "sitemap" | "url"
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("interval_s", sa.Integer, nullable=False),
    sa.Column("etag", sa.String(500), nullable=True),
    sa.Column("last_modified", sa.String(100), nullable=True),
    sa.Column("last_polled_at", UTCDateTime(), nullable=True),
    sa.Column("next_poll_at", UTCDateTime(), nullable=False),
    # Counts of the last poll (new, updated, unchanged, ...), as JSON.
    sa.Column("last_result", sa.JSON, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("publisher_id", "kind", "url", name="uq_sources_publisher_kind_url"),
    sa.Index("ix_sources_next_poll_at", "next_poll_at"),
)

# Which source listed which story, and when last: a story missing from a complete
# listing of a source that used to list it may have been withdrawn.
story_sources = sa.Table(
    "story_sources",
    metadata,
    sa.Column(
        "story_id",
        sa.String(16),
        sa.ForeignKey("stories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "source_id",
        sa.Integer,
        sa.ForeignKey("sources.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("last_seen_at", UTCDateTime(), nullable=False),
    # When the story's content was last read through this source (stored or compared):
    # a listed story whose source date is older is not fetched again.
    sa.Column("checked_at", UTCDateTime(), nullable=True),
    sa.Index("ix_story_sources_source", "source_id"),
)
