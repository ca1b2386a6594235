"""Dashboard users: one row per e-mail address, with an argon2 password hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from republish.store.errors import Conflict, NotFound
from republish.store.schema import publishers, users


@dataclass(frozen=True)
class User:
    """A dashboard user. ``publisher_id`` None: an administrator of every publisher."""

    id: int
    email: str
    password_hash: str
    publisher_id: int | None
    publisher_slug: str | None
    created_at: datetime
    last_login_at: datetime | None

    @property
    def is_admin(self) -> bool:
        """True for a user who sees every publisher."""
        return self.publisher_id is None

    def __repr__(self) -> str:
        # Never show the hash, even in a traceback or a log line.
        return f"User(id={self.id}, email={self.email!r}, publisher={self.publisher_slug!r})"


def select_users() -> sa.Select[tuple[object, ...]]:
    """Users with their publisher's slug as ``publisher_slug`` (rows for :func:`row_to_user`)."""
    return sa.select(users, publishers.c.slug.label("publisher_slug")).select_from(
        users.outerjoin(publishers, publishers.c.id == users.c.publisher_id)
    )


def row_to_user(row: sa.RowMapping) -> User:
    """The user in a row of ``users`` joined with its publisher's ``slug`` as
    ``publisher_slug``."""
    return User(
        id=row["id"],
        email=row["email"],
        password_hash=row["password_hash"],
        publisher_id=row["publisher_id"],
        publisher_slug=row["publisher_slug"],
        created_at=row["created_at"],
        last_login_at=row["last_login_at"],
    )


def insert_user(
    conn: sa.Connection, email: str, password_hash: str, publisher_id: int | None, now: datetime
) -> User:
    """Store a new user; :class:`Conflict` when the e-mail is taken."""
    if conn.execute(sa.select(users.c.id).where(users.c.email == email)).first() is not None:
        raise Conflict(f"a user with e-mail {email!r} exists")
    user_id = conn.execute(
        users.insert().values(
            email=email,
            password_hash=password_hash,
            publisher_id=publisher_id,
            created_at=now,
            last_login_at=None,
        )
    ).inserted_primary_key
    assert user_id is not None
    return get_user_by_id(conn, int(user_id[0]))


def get_user(conn: sa.Connection, email: str) -> User:
    """The user with this (normalised) e-mail; :class:`NotFound` otherwise."""
    row = conn.execute(select_users().where(users.c.email == email)).mappings().first()
    if row is None:
        raise NotFound(f"no user with e-mail {email!r}")
    return row_to_user(row)


def get_user_by_id(conn: sa.Connection, user_id: int) -> User:
    """The user with this id; :class:`NotFound` otherwise."""
    row = conn.execute(select_users().where(users.c.id == user_id)).mappings().first()
    if row is None:
        raise NotFound(f"no user with id {user_id}")
    return row_to_user(row)


def list_users(conn: sa.Connection) -> list[User]:
    """Every user, by e-mail."""
    rows = conn.execute(select_users().order_by(users.c.email)).mappings()
    return [row_to_user(row) for row in rows]


def set_password_hash(conn: sa.Connection, user_id: int, password_hash: str) -> None:
    """Replace a user's password hash."""
    conn.execute(users.update().where(users.c.id == user_id).values(password_hash=password_hash))


def set_last_login(conn: sa.Connection, user_id: int, now: datetime) -> None:
    """Record a successful login."""
    conn.execute(users.update().where(users.c.id == user_id).values(last_login_at=now))


def delete_user(conn: sa.Connection, email: str) -> None:
    """Remove a user; :class:`NotFound` when there is none."""
    if conn.execute(users.delete().where(users.c.email == email)).rowcount == 0:
        raise NotFound(f"no user with e-mail {email!r}")
