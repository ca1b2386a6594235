"""Notifications: tell a publisher when a story gets a new republisher (webhook, e-mail)."""

from __future__ import annotations

from republish.notify.deliver import DeliveryResult, backoff_s, deliver_due, send_test
from republish.notify.targets import InvalidTarget, add_target, new_secret
from republish.notify.webhook import sign, verify

__all__ = [
    "DeliveryResult",
    "InvalidTarget",
    "add_target",
    "backoff_s",
    "deliver_due",
    "new_secret",
    "send_test",
    "sign",
    "verify",
]
