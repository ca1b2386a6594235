"""Rollup speed: publisher ids on the summary tables, indexes for the dashboard queries,
and compact unique-reader keys.

Revision ID: 2026_11_25_0004
Revises: 2026_11_25_0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import hashlib
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "2026_11_25_0004"
down_revision = "2026_11_25_0003"
branch_labels = None
depends_on = None

_EPOCH = date(1970, 1, 1)


def _reader_key(story_id: str, site: str, visitor: str) -> int:
    # republish.store.hits.site_key and reader_key, copied: a migration must not change.
    pair = b"%s\x00%s" % (story_id.encode(), site.encode())
    site_key = int.from_bytes(hashlib.blake2b(pair, digest_size=8).digest(), "big")
    raw = visitor.encode()
    if len(raw) == 32:
        try:
            return (int(raw[:16], 16) ^ site_key) - (1 << 63)
        except ValueError:
            pass
    digest = hashlib.blake2b(b"%d\x00%s" % (site_key, raw), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _add_publisher_id(table: str) -> None:
    op.add_column(table, sa.Column("publisher_id", sa.Integer, nullable=True))
    op.execute(
        f"UPDATE {table} SET publisher_id = COALESCE("
        f"(SELECT stories.publisher_id FROM stories WHERE stories.id = {table}.story_id), 0)"
    )
    with op.batch_alter_table(table) as batch:
        batch.alter_column("publisher_id", existing_type=sa.Integer, nullable=False)


def upgrade() -> None:
    _add_publisher_id("daily_stats")
    _add_publisher_id("republications")
    op.drop_index("ix_daily_stats_day", "daily_stats")
    op.create_index("ix_daily_stats_publisher_day", "daily_stats", ["publisher_id", "day"])
    op.create_index(
        "ix_daily_stats_publisher_site_day", "daily_stats", ["publisher_id", "site", "day"]
    )
    op.create_index(
        "ix_daily_stats_publisher_story_day", "daily_stats", ["publisher_id", "story_id", "day"]
    )
    # By site alone nothing looks republications up; by story and site the rollup does.
    op.drop_index("ix_republications_site", "republications")
    op.create_index(
        "ix_republications_story_site", "republications", ["story_id", "site", "first_seen"]
    )
    op.create_index(
        "ix_republications_publisher_site",
        "republications",
        ["publisher_id", "site", "first_seen"],
    )
    readers = op.create_table(
        "daily_readers",
        sa.Column("day", sa.Integer, primary_key=True),
        sa.Column("reader", sa.BigInteger, primary_key=True),
        sqlite_with_rowid=False,
    )
    # Today's and yesterday's visitors keep counting as seen (no reader is counted twice).
    old = op.get_bind().execute(sa.text("SELECT day, story_id, site, visitor FROM daily_visitors"))
    rows = {
        ((date.fromisoformat(str(day)) - _EPOCH).days, _reader_key(story, site, visitor))
        for day, story, site, visitor in old
    }
    if rows:
        op.bulk_insert(readers, [{"day": day, "reader": key} for day, key in sorted(rows)])
    op.drop_table("daily_visitors")


def downgrade() -> None:
    op.create_table(
        "daily_visitors",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("story_id", sa.String(32), primary_key=True),
        sa.Column("site", sa.String(255), primary_key=True),
        sa.Column("visitor", sa.String(32), primary_key=True),
    )
    op.drop_table("daily_readers")  # keys cannot be turned back into visitors
    op.drop_index("ix_republications_publisher_site", "republications")
    op.drop_index("ix_republications_story_site", "republications")
    op.create_index("ix_republications_site", "republications", ["site"])
    op.drop_index("ix_daily_stats_publisher_story_day", "daily_stats")
    op.drop_index("ix_daily_stats_publisher_site_day", "daily_stats")
    op.drop_index("ix_daily_stats_publisher_day", "daily_stats")
    op.create_index("ix_daily_stats_day", "daily_stats", ["day"])
    with op.batch_alter_table("republications") as batch:
        batch.drop_column("publisher_id")
    with op.batch_alter_table("daily_stats") as batch:
        batch.drop_column("publisher_id")
