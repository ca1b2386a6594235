"""The in-process rollup: a background thread that rolls the hit log up every few seconds.

It survives a database outage: a failed pass is logged and retried on the next tick; the
hits wait in the log meanwhile, so none is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from republish.periodic import Periodic, error_line
from republish.stats.readers import KnownReaders
from republish.stats.rollup import RollupResult, rollup
from republish.store.db import Database

logger = logging.getLogger("republish.stats")


class RollupWorker(Periodic):
    """``worker.start()`` ... ``worker.stop()`` (which runs one last pass)."""

    def __init__(
        self,
        db: Database,
        log_dir: Path,
        *,
        interval_s: float = 5.0,
        retention: timedelta = timedelta(days=7),
        after_pass: Callable[[RollupResult | None], object] | None = None,
        tick_first: bool = False,
    ) -> None:
        super().__init__("rollup", interval_s, tick_first=tick_first, tick_last=True)
        self.db = db
        # Called after every pass, failed ones too (e.g. waking the notification sender).
        self.after_pass = after_pass
        self.log_dir = log_dir
        self.retention = retention
        # Today's reader keys, kept from pass to pass instead of read again every few seconds.
        self.readers = KnownReaders()

    def run_once(self) -> RollupResult | None:
        """One pass; None if it failed (the error is logged and kept in ``last_error``)."""
        result = self.attempt(
            "rollup",
            lambda: rollup(self.db, self.log_dir, retention=self.retention, readers=self.readers),
            logger,
        )
        if result is None:
            self.readers = KnownReaders()  # it may hold keys that were rolled back
        return result

    def tick(self) -> None:
        """One pass, then the ``after_pass`` hook; neither may end the thread."""
        result = self.run_once()
        if self.after_pass is None:
            return
        try:
            self.after_pass(result)
        except Exception as exc:  # the hook must not kill the worker either
            logger.warning("after-rollup step failed, will retry: %s", error_line(exc))
