"""Hit rollups: log positions, daily stats, dropped hits, republications, daily visitors.

Revision ID: 2026_11_24_0002
Revises: 2026_11_24_0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "2026_11_24_0002"
down_revision = "2026_11_24_0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hit_log_positions",
        sa.Column("segment", sa.String(200), primary_key=True),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("hits", sa.BigInteger, nullable=False),
        sa.Column("damaged", sa.BigInteger, nullable=False),
        sa.Column("sealed", sa.Boolean, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "daily_stats",
        sa.Column("story_id", sa.String(32), primary_key=True),
        sa.Column("site", sa.String(255), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("views", sa.BigInteger, nullable=False),
        sa.Column("readers", sa.BigInteger, nullable=False),
        sa.Column("bots", sa.BigInteger, nullable=False),
        sa.Column("prefetches", sa.BigInteger, nullable=False),
        sa.Column("previews", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_daily_stats_day", "daily_stats", ["day"])
    op.create_table(
        "dropped_daily",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("reason", sa.String(40), primary_key=True),
        sa.Column("hits", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "republications",
        sa.Column("story_id", sa.String(32), primary_key=True),
        sa.Column("page_url", sa.String(2000), primary_key=True),
        sa.Column("site", sa.String(255), nullable=False),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("views", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_republications_site", "republications", ["site"])
    op.create_table(
        "daily_visitors",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("story_id", sa.String(32), primary_key=True),
        sa.Column("site", sa.String(255), primary_key=True),
        sa.Column("visitor", sa.String(32), primary_key=True),
    )


def downgrade() -> None:
    for table in (
        "daily_visitors",
        "republications",
        "dropped_daily",
        "daily_stats",
        "hit_log_positions",
    ):
        op.drop_table(table)
