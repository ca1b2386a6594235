"""Alembic environment: runs migrations on the engine the Database object passes in."""

from __future__ import annotations

from alembic import context

from republish.store.schema import metadata

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
