"""Deliver the notification outbox: due rows are sent, retried with backoff, or given up.

Delivery is at least once: rows are written in the rollup's transaction and sent after
it commits; a crash in between means they go out on the next pass. A row is claimed
(its next attempt moved forward) before it is sent, so two passes running at once do not
both send it. Receivers dedupe by the payload's ``id``.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from republish.config import Settings
from republish.net import FetchError
from republish.notify import email, webhook
from republish.store import notifications as store
from republish.store.db import Database

logger = logging.getLogger("republish.notify")

MAX_ATTEMPTS = 8
FIRST_RETRY_S = 60.0
MAX_RETRY_S = 6 * 3600.0
# Longer than one send can take (webhook and SMTP timeouts), so a claim outlives its send.
CLAIM_S = 120.0
GIVE_UP_PREFIX = "gave up: "


class UnknownTargetKind(RuntimeError):
    """A stored target of a kind this version cannot send (written by a newer one)."""


# What a failed send may raise; anything else is a bug and propagates.
SEND_ERRORS: tuple[type[Exception], ...] = (
    FetchError,
    smtplib.SMTPException,
    OSError,
    email.EmailNotConfigured,
    UnknownTargetKind,
)


@dataclass
class DeliveryResult:
    """What one delivery pass did."""

    sent: int = 0
    failed: int = 0
    given_up: int = 0
    errors: list[str] = field(default_factory=list)


def backoff_s(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1, 2, ...)."""
    return float(min(MAX_RETRY_S, FIRST_RETRY_S * 2.0 ** max(0, attempts - 1)))


def describe_error(exc: Exception) -> str:
    """One line about a failed send (hosts and statuses, never a secret)."""
    # Messages of the guarded client and smtplib name the host, never a secret.
    text = str(exc).strip() or type(exc).__name__
    return " ".join(f"{type(exc).__name__}: {text}".split())[:500]


def send_one(item: store.Outgoing, settings: Settings, now: datetime) -> None:
    """Send one outbox row to its target; raise one of ``SEND_ERRORS`` on failure."""
    if item.target.kind == store.WEBHOOK:
        webhook.post_json(settings, item.target, webhook.payload(item), now)
    elif item.target.kind == store.EMAIL:
        email.send(email.compose(item, settings), settings)
    else:
        raise UnknownTargetKind(f"unknown target kind {item.target.kind!r}")


def deliver_due(
    db: Database,
    settings: Settings,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    limit: int = 100,
) -> DeliveryResult:
    """Send every due notification once; failures are rescheduled or given up."""
    result = DeliveryResult()
    now = clock()
    with db.connect() as conn:
        items = store.due(conn, now, max_attempts, limit)
    for item in items:
        with db.begin() as conn:
            if not store.claim(
                conn, item.id, item.next_attempt_at, now + timedelta(seconds=CLAIM_S)
            ):
                continue  # another pass took it
        try:
            send_one(item, settings, clock())
        except SEND_ERRORS as exc:
            attempts = item.attempts + 1
            error = webhook.redact(describe_error(exc), item.target.address)
            given_up = attempts >= max_attempts
            if given_up:
                error = f"{GIVE_UP_PREFIX}{attempts} attempts; last: {error}"
            retry_at = clock() + timedelta(seconds=backoff_s(attempts))
            with db.begin() as conn:
                store.mark_failed(conn, item.id, error, retry_at)
            result.failed += 1
            result.given_up += given_up
            result.errors.append(f"notification {item.id} to target {item.target.id}: {error}")
            logger.warning(
                "notification %d (%s target %d) failed%s: %s",
                item.id,
                item.target.kind,
                item.target.id,
                ", giving up" if given_up else f", retry in {backoff_s(attempts):.0f} s",
                error,
            )
            continue
        with db.begin() as conn:
            store.mark_sent(conn, item.id, clock())
        result.sent += 1
    return result


def send_test(db: Database, settings: Settings, target_id: int) -> store.Target:
    """Send a test message to one target now; raise one of ``SEND_ERRORS`` on failure."""
    with db.connect() as conn:
        target = store.get_target(conn, target_id)
    now = datetime.now(UTC)
    if target.kind == store.WEBHOOK:
        webhook.post_json(settings, target, webhook.test_payload(target, now), now)
    else:
        email.send(email.compose_test(target, settings), settings)
    return target
