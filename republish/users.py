"""Dashboard users: create them, check their passwords, change and remove them.

Passwords are hashed with argon2id (argon2-cffi's defaults) and never logged; a hash
made with older parameters is replaced at the next successful login.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from republish.store import publishers as publisher_store
from republish.store import sessions as session_store
from republish.store import users as store
from republish.store.db import Database
from republish.store.errors import Conflict, NotFound
from republish.store.users import User

__all__ = [
    "MIN_PASSWORD_CHARS",
    "InvalidUser",
    "User",
    "change_password",
    "check_new_user",
    "check_password",
    "create_user",
    "list_users",
    "normalise_email",
    "remove_user",
    "session_stamp",
    "verify_login",
]

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024
MAX_EMAIL_CHARS = 320
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so that a wrong e-mail costs as much
# time as a wrong password (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash("not-a-password-of-anyone")


class InvalidUser(ValueError):
    """An e-mail address or password that cannot be used."""


def normalise_email(email: str) -> str:
    """The e-mail address as stored: trimmed, lower case; :class:`InvalidUser` if not one."""
    cleaned = email.strip().lower()
    if len(cleaned) > MAX_EMAIL_CHARS or not _EMAIL.fullmatch(cleaned):
        raise InvalidUser(f"not an e-mail address: {email.strip()[:80]!r}")
    return cleaned


def check_password(password: str) -> str:
    """The password if it is long enough; :class:`InvalidUser` otherwise."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidUser(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidUser(f"the password must have at most {MAX_PASSWORD_CHARS} characters")
    if "\x00" in password:
        raise InvalidUser("the password must not contain NUL characters")
    return password


def check_new_user(db: Database, email: str, publisher_slug: str | None) -> None:
    """Raise what :func:`create_user` would for the e-mail and publisher (not the password)."""
    address = normalise_email(email)
    with db.connect() as conn:
        if publisher_slug is not None:
            publisher_store.get_publisher(conn, publisher_slug)
        try:
            store.get_user(conn, address)
        except NotFound:
            return
    raise Conflict(f"a user with e-mail {address!r} exists")


def create_user(db: Database, email: str, password: str, publisher_slug: str | None = None) -> User:
    """Store a user of ``publisher_slug`` (None: an administrator of every publisher).

    :class:`InvalidUser`, :class:`~republish.store.errors.NotFound` (no such publisher)
    or :class:`~republish.store.errors.Conflict` (e-mail taken); nothing is stored then.
    """
    address = normalise_email(email)
    password_hash = _hasher.hash(check_password(password))
    with db.begin() as conn:
        publisher_id = None
        if publisher_slug is not None:
            publisher_id = publisher_store.get_publisher(conn, publisher_slug).id
        return store.insert_user(conn, address, password_hash, publisher_id, datetime.now(UTC))


def verify_login(db: Database, email: str, password: str) -> User | None:
    """The user if ``password`` is theirs, else None (same cost for unknown e-mails)."""
    try:
        address = normalise_email(email)
    except InvalidUser:
        address = ""
    with db.connect() as conn:
        try:
            user = store.get_user(conn, address) if address else None
        except NotFound:
            user = None
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    with db.begin() as conn:
        if _hasher.check_needs_rehash(user.password_hash):
            # A new hash changes the session stamp, which ends the user's other sessions
            # (see session_stamp); their records go now rather than at expiry.
            store.set_password_hash(conn, user.id, _hasher.hash(password))
            session_store.delete_user_sessions(conn, user.id)
        store.set_last_login(conn, user.id, datetime.now(UTC))
        return store.get_user_by_id(conn, user.id)


def change_password(db: Database, email: str, password: str) -> None:
    """Give a user a new password; their open sessions end (their records are deleted)."""
    address = normalise_email(email)
    password_hash = _hasher.hash(check_password(password))
    with db.begin() as conn:
        user = store.get_user(conn, address)
        store.set_password_hash(conn, user.id, password_hash)
        session_store.delete_user_sessions(conn, user.id)


def remove_user(db: Database, email: str) -> None:
    """Remove a user and their open sessions."""
    address = normalise_email(email)
    with db.begin() as conn:
        # The foreign key cascades too; deleting here does not depend on it.
        session_store.delete_user_sessions(conn, store.get_user(conn, address).id)
        store.delete_user(conn, address)


def list_users(db: Database) -> list[User]:
    """Every user, by e-mail."""
    with db.connect() as conn:
        return store.list_users(conn)


def session_stamp(user: User) -> str:
    """A short value derived from the password hash, kept in the session cookie.

    A session whose stamp no longer matches (password changed, also by a rehash at
    login) is no longer valid, even while its record is still stored.
    """
    return hashlib.sha256(user.password_hash.encode("utf-8")).hexdigest()[:16]
