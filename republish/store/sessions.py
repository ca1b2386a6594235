"""Dashboard sessions: one row per login, found by the SHA-256 of the cookie's session id.

The session id is 32 random bytes (URL-safe text) held in the signed session cookie; the
database keeps only its hash, so reading the table gives no one a session. A session
ends when its row is deleted (logout, password change, user removed) or expires.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from republish.store.schema import dashboard_sessions, users
from republish.store.users import User, row_to_user, select_users

#: Longest session id accepted for a lookup (``token_urlsafe(32)`` gives 43 characters).
MAX_SESSION_ID_CHARS = 100


def hash_session_id(session_id: str) -> str:
    """The stored form of a session id: SHA-256, hex."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def create_session(conn: sa.Connection, user_id: int, now: datetime, max_age_s: int) -> str:
    """Store a new session of ``user_id`` lasting ``max_age_s``; return its id (not stored)."""
    session_id = secrets.token_urlsafe(32)
    conn.execute(
        dashboard_sessions.insert().values(
            id_hash=hash_session_id(session_id),
            user_id=user_id,
            created_at=now,
            expires_at=now + timedelta(seconds=max_age_s),
        )
    )
    return session_id


def session_user(conn: sa.Connection, session_id: str, now: datetime) -> User | None:
    """The user of a live session (stored, not expired, user still there), or None.

    One query: the session, its user and the user's publisher slug.
    """
    if not session_id or len(session_id) > MAX_SESSION_ID_CHARS:
        return None
    query = (
        select_users()
        .join(dashboard_sessions, dashboard_sessions.c.user_id == users.c.id)
        .where(
            dashboard_sessions.c.id_hash == hash_session_id(session_id),
            dashboard_sessions.c.expires_at > now,
        )
    )
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    return row_to_user(row)


def delete_session(conn: sa.Connection, session_id: str) -> bool:
    """End one session; False when there was none."""
    deleted = conn.execute(
        dashboard_sessions.delete().where(
            dashboard_sessions.c.id_hash == hash_session_id(session_id)
        )
    )
    return deleted.rowcount > 0


def delete_user_sessions(conn: sa.Connection, user_id: int) -> int:
    """End every session of a user; the number ended."""
    deleted = conn.execute(
        dashboard_sessions.delete().where(dashboard_sessions.c.user_id == user_id)
    )
    return deleted.rowcount


def delete_expired(conn: sa.Connection, now: datetime) -> int:
    """Remove sessions that expired by ``now``; the number removed."""
    deleted = conn.execute(
        dashboard_sessions.delete().where(dashboard_sessions.c.expires_at <= now)
    )
    return deleted.rowcount


__all__ = [
    "create_session",
    "delete_expired",
    "delete_session",
    "delete_user_sessions",
    "hash_session_id",
    "session_user",
]
