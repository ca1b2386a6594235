"""The one Database object: an engine for SQLite or PostgreSQL, and migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class DatabaseError(RuntimeError):
    """The database cannot be opened or used (bad URL, unreachable, not migrated)."""


def _normalise_url(url: str) -> sa.URL:
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise DatabaseError(f"not a database URL: {url!r}") from exc
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend not in {"sqlite", "postgresql"}:
        raise DatabaseError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")
    return parsed


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the single writer; foreign keys are off by default.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """Access to one database. ``Database("sqlite:///republish.db")``."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = _normalise_url(url)
        if self.url.get_backend_name() == "sqlite":
            engine_options.setdefault("connect_args", {"check_same_thread": False})
        else:
            # Connections die with a database restart; test each one before use.
            engine_options.setdefault("pool_pre_ping", True)
        self.engine = sa.create_engine(self.url, **engine_options)
        if self.dialect == "sqlite":
            sa.event.listen(self.engine, "connect", _on_sqlite_connect)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.url.get_backend_name()

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """A connection inside a transaction: committed on success, rolled back on error."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        """A connection for reading."""
        with self.engine.connect() as conn:
            yield conn

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        from alembic import command

        command.upgrade(self._alembic_config(), "head")

    def current_revision(self) -> str | None:
        """The applied migration, or None for an empty database."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        """The newest migration shipped with this version."""
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()

    def check_schema(self) -> None:
        """Raise :class:`DatabaseError` unless the schema is at the newest migration."""
        try:
            current = self.current_revision()
        except sa.exc.OperationalError as exc:
            raise DatabaseError(f"cannot open the database: {exc.orig}") from exc
        if current != self.head_revision():
            raise DatabaseError("the database schema is not up to date: run `republish db upgrade`")

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def _alembic_config(self) -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["engine"] = self.engine
        return config
