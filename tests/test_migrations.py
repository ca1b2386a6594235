"""The migrated schema is exactly the one the queries use."""

from __future__ import annotations

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
