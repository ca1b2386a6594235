"""Notification delivery in a thread of its own, so a slow receiver never holds a rollup.

A webhook or SMTP server may take its whole timeout to answer, once per queued
notification; on the rollup's thread that would hold back the counting of hits. The
rollup wakes this worker after each pass instead, and it also sends on its own every
``interval_s`` (a failed send's retry comes due without any new hit).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from republish.config import Settings
from republish.notify.deliver import DeliveryResult, deliver_due
from republish.periodic import Periodic, error_line
from republish.store.db import Database

logger = logging.getLogger("republish.notify")


class DeliveryWorker(Periodic):
    """``start()``, ``wake()`` after each rollup, ``stop()`` (which sends once more)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        interval_s: float = 30.0,
        on_result: Callable[[DeliveryResult], object] | None = None,
    ) -> None:
        super().__init__("notify", interval_s, tick_first=False, tick_last=True)
        self.db = db
        self.settings = settings
        # Called with each pass's result (``republish rollup --watch`` prints it).
        self.on_result = on_result

    def tick(self) -> None:
        """Send what is due; a database outage is logged and retried on the next tick."""
        result = self.attempt(
            "notification delivery", lambda: deliver_due(self.db, self.settings), logger
        )
        if result is not None and self.on_result is not None:
            try:
                self.on_result(result)
            except Exception as exc:  # nor may reporting the result
                logger.warning("reporting a delivery failed: %s", error_line(exc))
