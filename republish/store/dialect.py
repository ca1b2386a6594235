"""The few SQL differences between SQLite and PostgreSQL, in one place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _greatest(conn: sa.Connection, a: Any, b: Any) -> Any:
    # SQLite's two-argument max() is a scalar function; PostgreSQL spells it GREATEST.
    return sa.func.greatest(a, b) if conn.dialect.name == "postgresql" else sa.func.max(a, b)


def _least(conn: sa.Connection, a: Any, b: Any) -> Any:
    return sa.func.least(a, b) if conn.dialect.name == "postgresql" else sa.func.min(a, b)


def upsert_add(
    conn: sa.Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    add: Sequence[str] = (),
    greatest: Sequence[str] = (),
    least: Sequence[str] = (),
) -> None:
    """Insert ``rows``; where a row with the same ``keys`` exists, add the ``add`` columns
    to it and keep the greatest/least of the ``greatest``/``least`` columns."""
    if not rows:
        return
    statement = _insert(conn, table)
    excluded = statement.excluded
    updates: dict[str, Any] = {name: table.c[name] + excluded[name] for name in add}
    updates |= {name: _greatest(conn, table.c[name], excluded[name]) for name in greatest}
    updates |= {name: _least(conn, table.c[name], excluded[name]) for name in least}
    conn.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=updates), rows)


def insert_new(
    conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> list[Any]:
    """Insert the rows not already present; return the key columns of those inserted."""
    if not rows:
        return []
    statement = (
        _insert(conn, table)
        .on_conflict_do_nothing(index_elements=list(keys))
        .returning(*(table.c[name] for name in keys))
    )
    result = conn.execute(statement, rows)
    return list(result.all())
