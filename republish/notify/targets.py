"""Adding notification targets: check the webhook URL or e-mail address, make a secret."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from republish._netguard import is_ip_literal
from republish.config import Settings
from republish.net import BadURL, BlockedAddress, FetchError, check_address, parse_url
from republish.store import notifications as store
from republish.store import publishers as publisher_store
from republish.store.db import Database

_EMAIL = re.compile(r"^[^@\s<>\"(),;:\[\]\\]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
MAX_ADDRESS_CHARS = 2000
MAX_EMAIL_CHARS = 320


class InvalidTarget(ValueError):
    """A webhook URL or e-mail address that cannot be used."""


def new_secret() -> str:
    """A fresh webhook signing secret (shown to the user once)."""
    return "whsec_" + secrets.token_hex(24)


def check_webhook_url(url: str, settings: Settings) -> str:
    """The URL as stored, or :class:`InvalidTarget` (not http(s), credentials, blocked IP)."""
    if len(url) > MAX_ADDRESS_CHARS:
        raise InvalidTarget(f"webhook URL longer than {MAX_ADDRESS_CHARS} characters")
    try:
        parsed = parse_url(url)
        host = parsed.raw_host.decode("ascii")
        if is_ip_literal(host.strip("[]")):
            check_address(host.strip("[]"), settings.fetch_allow)
    except BlockedAddress as exc:
        raise InvalidTarget(f"webhook URL refused: {exc}") from None
    except (BadURL, FetchError) as exc:
        raise InvalidTarget(f"bad webhook URL: {exc}") from None
    # Host names are checked again at every delivery, after resolution (DNS may change).
    return str(parsed)


def check_email(address: str) -> str:
    """The address as stored, or :class:`InvalidTarget`."""
    address = address.strip()
    if len(address) > MAX_EMAIL_CHARS or not _EMAIL.match(address):
        raise InvalidTarget(f"{address[:80]!r} is not an e-mail address")
    return address


def add_target(
    db: Database,
    settings: Settings,
    publisher_slug: str,
    *,
    webhook: str | None = None,
    email: str | None = None,
    now: datetime | None = None,
) -> store.Target:
    """Store a webhook (with a new secret) or e-mail target for a publisher."""
    if (webhook is None) == (email is None):
        raise InvalidTarget("give exactly one of a webhook URL or an e-mail address")
    if webhook is not None:
        kind, address, secret = store.WEBHOOK, check_webhook_url(webhook, settings), new_secret()
    else:
        assert email is not None
        kind, address, secret = store.EMAIL, check_email(email), None
    with db.begin() as conn:
        publisher = publisher_store.get_publisher(conn, publisher_slug)
        assert publisher.id is not None
        return store.add_target(conn, publisher.id, kind, address, secret, now or datetime.now(UTC))
