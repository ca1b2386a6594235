"""Dashboard sessions: one row per login, keyed by the SHA-256 of the cookie's session id.

Revision ID: 2026_11_30_0006
Revises: 2026_11_30_0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "2026_11_30_0006"
down_revision = "2026_11_30_0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )
    op.create_index("ix_dashboard_sessions_user", "dashboard_sessions", ["user_id"])
    op.create_index("ix_dashboard_sessions_expires_at", "dashboard_sessions", ["expires_at"])


def downgrade() -> None:
    # Only this table goes; nothing refers to it. Every user logs in again afterwards:
    # the older code looks for a user id that the cookies of this version do not carry.
    op.drop_index("ix_dashboard_sessions_expires_at", "dashboard_sessions")
    op.drop_index("ix_dashboard_sessions_user", "dashboard_sessions")
    op.drop_table("dashboard_sessions")
