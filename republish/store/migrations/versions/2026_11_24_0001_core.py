"""Core tables: publishers, stories, story revisions, editor overrides.

Revision ID: 2026_11_24_0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "2026_11_24_0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "publishers",
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
        sa.Column("api_token_sha256", sa.String(64), nullable=True, unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "stories",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column(
            "publisher_id",
            sa.Integer,
            sa.ForeignKey("publishers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("canonical_url", sa.String(2000), nullable=False),
        sa.Column("url_key", sa.String(2000), nullable=False),
        sa.Column("headline", sa.Text, nullable=False),
        sa.Column("dek", sa.Text, nullable=False),
        sa.Column("bylines", sa.JSON, nullable=False),
        sa.Column("published_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=True),
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
        sa.Column("override_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("modified_at", TS, nullable=False),
        sa.UniqueConstraint("publisher_id", "url_key", name="uq_stories_publisher_url"),
    )
    op.create_table(
        "story_revisions",
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
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "story_overrides",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "story_id",
            sa.String(16),
            sa.ForeignKey("stories.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("republishable", sa.Boolean, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_story_overrides_story_id", "story_overrides", ["story_id"])


def downgrade() -> None:
    op.drop_table("story_overrides")
    op.drop_table("story_revisions")
    op.drop_table("stories")
    op.drop_table("publishers")
