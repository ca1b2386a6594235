"""Unique-reader keys as sorted runs per day (``reader_blocks``, ``reader_days``) instead of
one row per key (``daily_readers``): storing ~0.7 new keys per hit one index entry at a time
was half of a rollup's database work.

Revision ID: 2026_12_01_0007
Revises: 2026_11_30_0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import struct
from itertools import groupby

import sqlalchemy as sa
from alembic import op

revision = "2026_12_01_0007"
down_revision = "2026_11_30_0006"
branch_labels = None
depends_on = None


def _pack(keys: list[int]) -> bytes:
    # As republish.stats.readers.pack, copied: a migration must not change.
    return struct.pack(f"<{len(keys)}q", *keys)


def upgrade() -> None:
    blocks = op.create_table(
        "reader_blocks",
        sa.Column("day", sa.Integer, primary_key=True),
        sa.Column("block", sa.BigInteger, primary_key=True),
        sa.Column("packed", sa.LargeBinary, nullable=False),
    )
    days = op.create_table(
        "reader_days",
        sa.Column("day", sa.Integer, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # Random keys do not compress: do not try.
        op.execute("ALTER TABLE reader_blocks ALTER COLUMN packed SET STORAGE EXTERNAL")
    # Today's and yesterday's readers keep counting as seen: each day's keys become one run.
    rows = bind.execute(sa.text("SELECT day, reader FROM daily_readers ORDER BY day, reader"))
    for day, pairs in groupby(rows, key=lambda row: row[0]):
        keys = [reader for _, reader in pairs]
        op.bulk_insert(blocks, [{"day": day, "block": 1, "packed": _pack(keys)}])
        op.bulk_insert(days, [{"day": day, "version": 1}])
    op.drop_table("daily_readers")


def downgrade() -> None:
    readers = op.create_table(
        "daily_readers",
        sa.Column("day", sa.Integer, primary_key=True),
        sa.Column("reader", sa.BigInteger, primary_key=True),
        sqlite_with_rowid=False,
    )
    rows = op.get_bind().execute(sa.text("SELECT day, packed FROM reader_blocks"))
    found = sorted(
        (day, key) for day, data in rows for (key,) in struct.iter_unpack("<q", bytes(data))
    )
    if found:
        op.bulk_insert(readers, [{"day": day, "reader": key} for day, key in found])
    op.drop_table("reader_days")
    op.drop_table("reader_blocks")
