"""Story sources (feeds, WordPress, sitemaps, single pages), which stories each listed,
withdrawn stories, and per-publisher site profiles.

Revision ID: 2026_11_30_0005
Revises: 2026_11_25_0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "2026_11_30_0005"
down_revision = "2026_11_25_0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("publishers") as batch:
        batch.add_column(sa.Column("site_profile", sa.JSON, nullable=True))
    with op.batch_alter_table("stories") as batch:
        batch.add_column(sa.Column("withdrawn_at", TS, nullable=True))
        batch.add_column(sa.Column("withdrawn_reason", sa.Text, nullable=False, server_default=""))
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "publisher_id",
            sa.Integer,
            sa.ForeignKey("publishers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("interval_s", sa.Integer, nullable=False),
        sa.Column("etag", sa.String(500), nullable=True),
        sa.Column("last_modified", sa.String(100), nullable=True),
        sa.Column("last_polled_at", TS, nullable=True),
        sa.Column("next_poll_at", TS, nullable=False),
        sa.Column("last_result", sa.JSON, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("publisher_id", "kind", "url", name="uq_sources_publisher_kind_url"),
    )
    op.create_index("ix_sources_next_poll_at", "sources", ["next_poll_at"])
    op.create_table(
        "story_sources",
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
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("checked_at", TS, nullable=True),
    )
    op.create_index("ix_story_sources_source", "story_sources", ["source_id"])


def downgrade() -> None:
    op.drop_index("ix_story_sources_source", "story_sources")
    op.drop_table("story_sources")
    op.drop_index("ix_sources_next_poll_at", "sources")
    op.drop_table("sources")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not a batch table rebuild: a
    # rebuilt publishers table is dropped and re-created, and the drop would cascade to
    # every story through the foreign key.
    op.drop_column("stories", "withdrawn_reason")
    op.drop_column("stories", "withdrawn_at")
    op.drop_column("publishers", "site_profile")
