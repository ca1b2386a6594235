"""The migrated schema is exactly the one the queries use."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from republish.store.db import Database
from republish.store.schema import metadata


def test_migrations_match_schema(db: Database) -> None:
    with db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_schema_is_at_head(db: Database) -> None:
    assert db.current_revision() == db.head_revision()
    db.check_schema()


def test_every_downgrade_and_upgrade_keeps_stories(db: Database, story_id: str) -> None:
    """Stepping down to the first revision and back up loses no publisher or story."""
    config = db._alembic_config()
    command.downgrade(config, "2026_11_24_0001")
    command.upgrade(config, "head")
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT id FROM stories")).scalars().all() == [story_id]
        assert conn.execute(sa.text("SELECT count(*) FROM publishers")).scalar_one() >= 1
