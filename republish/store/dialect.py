"""The few SQL differences between SQLite and PostgreSQL, in one place."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def insert(conn: sa.Connection, table: sa.Table) -> Any:
    """An INSERT of the connection's dialect (with ``on_conflict_do_...``)."""
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
    statement = insert(conn, table)
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
        insert(conn, table)
        .on_conflict_do_nothing(index_elements=list(keys))
        .returning(*(table.c[name] for name in keys))
    )
    result = conn.execute(statement, rows)
    return list(result.all())


def load_temp(
    conn: sa.Connection,
    name: str,
    like: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Any],
) -> sa.TableClause:
    """Fill the connection's temporary table ``name`` with ``rows`` (tuples in ``columns``
    order), replacing what it held; return it for queries.

    ``columns`` are typed as in ``like``. One round trip per batch instead of one per row:
    COPY on PostgreSQL, one statement on the driver's connection with SQLite.
    """
    names = ", ".join(columns)
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {name} AS SELECT {names} FROM {like.name} WHERE 1 = 0"
    )
    raw: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        # TRUNCATE, not DELETE: autovacuum never visits temporary tables.
        conn.exec_driver_sql(f"TRUNCATE {name}")
        with raw.cursor() as cursor, cursor.copy(f"COPY {name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        conn.exec_driver_sql(f"DELETE FROM temp.{name}")
        # The dialect's own conversions (dates and times to SQLAlchemy's text format).
        processors = [
            like.c[column].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
            for column in columns
        ]
        if any(processors) and rows:
            # Column by column, each distinct value once (days repeat on every row).
            columns_of = list(zip(*rows, strict=True))
            for index, process in enumerate(processors):
                if process is not None:
                    done = {value: process(value) for value in set(columns_of[index])}
                    columns_of[index] = tuple(map(done.__getitem__, columns_of[index]))
            rows = list(zip(*columns_of, strict=True))
        # One statement with the rows as a JSON array, not executemany: that releases and
        # retakes the GIL for every row, and waits each time while another thread (the
        # rollup's reader) holds it.
        values = ", ".join(f"json_extract(value, '$[{n}]')" for n in range(len(processors)))
        raw.execute(
            f"INSERT INTO temp.{name} ({names}) SELECT {values} FROM json_each(?)",
            (json.dumps(rows),),
        )
    return sa.table(name, *(sa.column(column) for column in columns))


def upsert_add_from(
    conn: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    select: sa.Select[Any],
    keys: Sequence[str],
    add: Sequence[str] = (),
    greatest: Sequence[str] = (),
    least: Sequence[str] = (),
) -> None:
    """:func:`upsert_add` for the rows of ``select`` (its columns in ``columns`` order), in
    one ``INSERT ... SELECT``. The rows must not repeat a key."""
    # SQLite needs a WHERE before ON CONFLICT to parse INSERT ... SELECT ... ON CONFLICT.
    statement = insert(conn, table).from_select(list(columns), select.where(sa.true()))
    excluded = statement.excluded
    updates: dict[str, Any] = {name: table.c[name] + excluded[name] for name in add}
    updates |= {name: _greatest(conn, table.c[name], excluded[name]) for name in greatest}
    updates |= {name: _least(conn, table.c[name], excluded[name]) for name in least}
    conn.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=updates))
