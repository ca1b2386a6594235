"""Publisher settings: validate them, create and edit publishers, issue API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from republish.models import CREDIT_PLACEHOLDERS, Licence, Publisher
from republish.store import publishers as store
from republish.store.db import Database
from republish.urls import InvalidURL, check_http_url


class InvalidPublisher(ValueError):
    """A publisher field has a value that cannot be used."""


_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")

#: Fields that hold lists; given as a list or a comma-separated string.
LIST_FIELDS = (
    "domains",
    "excluded_origins",
    "excluded_sections",
    "excluded_tags",
    "excluded_authors",
)
#: Fields an editor may set, in the order the CLI and docs show them.
EDITABLE_FIELDS = (
    "name",
    "home_url",
    "domains",
    "licence",
    "credit_template",
    "guidelines_md",
    "canonical_guide_md",
    "contact_email",
    "excluded_origins",
    "excluded_sections",
    "excluded_tags",
    "excluded_authors",
    "show_reason",
)


def hash_token(token: str) -> str:
    """sha256 hex of an API token (tokens are stored only in this form)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh API token: ``rp_`` and 40 random URL-safe characters."""
    return "rp_" + secrets.token_urlsafe(30)


def check_credit_template(template: str) -> str:
    """Raise :class:`InvalidPublisher` unless every ``{placeholder}`` is known."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise InvalidPublisher(f"credit template: {exc}") from exc
    unknown = sorted(set(fields) - set(CREDIT_PLACEHOLDERS))
    if unknown:
        known = ", ".join("{" + name + "}" for name in CREDIT_PLACEHOLDERS)
        raise InvalidPublisher(
            f"credit template: unknown placeholder {{{unknown[0]}}}; use {known}"
        )
    if "{publisher}" not in template and "{story_link}" not in template:
        raise InvalidPublisher("credit template must name {publisher} or link {story_link}")
    return template


def _as_list(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",")]
    elif isinstance(value, list | tuple):
        if not all(isinstance(item, str) for item in value):
            raise InvalidPublisher(f"{name}: expected a list of strings")
        items = [item.strip() for item in value]
    else:
        raise InvalidPublisher(f"{name}: expected a list of strings")
    return tuple(dict.fromkeys(item for item in items if item))


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {
        "true",
        "yes",
        "1",
        "on",
        "false",
        "no",
        "0",
        "off",
    }:
        return value.lower() in {"true", "yes", "1", "on"}
    raise InvalidPublisher(f"{name}: expected true or false")


def apply_changes(publisher: Publisher, changes: Mapping[str, Any]) -> Publisher:
    """A copy of ``publisher`` with ``changes`` applied and every field validated.

    Raises :class:`InvalidPublisher` naming the first bad field.
    """
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS) - {"slug"})
    if unknown:
        raise InvalidPublisher(f"unknown field {unknown[0]!r}")
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if value is None:
            continue
        if name in LIST_FIELDS:
            values[name] = _as_list(name, value)
        elif name == "show_reason":
            values[name] = _as_bool(name, value)
        elif name == "licence":
            try:
                values[name] = Licence(value)
            except ValueError:
                choices = ", ".join(licence.value for licence in Licence)
                raise InvalidPublisher(f"licence: {value!r} is not one of {choices}") from None
        elif not isinstance(value, str):
            raise InvalidPublisher(f"{name}: expected a string")
        else:
            values[name] = (
                value.strip() if name not in {"guidelines_md", "canonical_guide_md"} else value
            )
    return validate(publisher.replace(**values))


def validate(publisher: Publisher) -> Publisher:
    """Return ``publisher`` (domains lower-cased) or raise :class:`InvalidPublisher`."""
    if not _SLUG.match(publisher.slug):
        raise InvalidPublisher(
            f"slug: {publisher.slug!r} must be 1-64 lower-case letters, digits or dashes"
        )
    if not publisher.name.strip() or len(publisher.name) > 200:
        raise InvalidPublisher("name: must be 1-200 characters")
    domains = tuple(domain.lower().removeprefix("www.") for domain in publisher.domains)
    for domain in domains:
        if not _DOMAIN.match(domain):
            raise InvalidPublisher(f"domains: {domain!r} is not a domain name")
    if len(publisher.home_url) > 2000:
        raise InvalidPublisher("home_url: longer than 2000 characters")
    if len(publisher.contact_email) > 320:
        raise InvalidPublisher("contact_email: longer than 320 characters")
    if publisher.home_url:
        try:
            check_http_url(publisher.home_url)
        except InvalidURL as exc:
            raise InvalidPublisher(f"home_url: {exc}") from None
    if publisher.contact_email and not _EMAIL.match(publisher.contact_email):
        raise InvalidPublisher(f"contact_email: {publisher.contact_email!r} is not an address")
    check_credit_template(publisher.credit_template)
    return publisher.replace(domains=domains)


def create_publisher(
    db: Database,
    slug: str,
    name: str,
    changes: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> tuple[Publisher, str]:
    """Create a publisher; return it and its API token (shown once, stored hashed)."""
    publisher = apply_changes(Publisher(slug=slug, name=name), dict(changes or {}))
    token = new_token()
    with db.begin() as conn:
        stored = store.insert_publisher(
            conn, publisher, now or datetime.now(UTC), api_token_sha256=hash_token(token)
        )
    return stored, token


def edit_publisher(
    db: Database, slug: str, changes: Mapping[str, Any], now: datetime | None = None
) -> Publisher:
    """Change some fields of a publisher; nothing is stored if one is invalid."""
    if "slug" in changes and changes["slug"] != slug:
        raise InvalidPublisher("slug: cannot be changed (story links depend on it)")
    with db.begin() as conn:
        current = store.get_publisher(conn, slug)
        updated = apply_changes(current, changes)
        return store.update_publisher(conn, updated, now or datetime.now(UTC))


def rotate_token(db: Database, slug: str, now: datetime | None = None) -> str:
    """Issue a new API token for a publisher; the old one stops working."""
    token = new_token()
    with db.begin() as conn:
        store.set_api_token(conn, slug, hash_token(token), now or datetime.now(UTC))
    return token


def publisher_for_token(db: Database, token: str) -> Publisher | None:
    """The publisher that owns this API token, if any."""
    with db.connect() as conn:
        return store.publisher_by_token(conn, hash_token(token))


def publisher_to_json(publisher: Publisher) -> dict[str, Any]:
    """A publisher as the CLI and API show it (no token)."""
    return store.publisher_values(publisher) | {
        "site_profile": store.profile_to_json(publisher.site_profile),
        "created_at": publisher.created_at.isoformat() if publisher.created_at else None,
        "updated_at": publisher.updated_at.isoformat() if publisher.updated_at else None,
    }
