"""The in-process rollup: a background thread that rolls the hit log up every few seconds.

It survives a database outage: a failed pass is logged and retried on the next tick; the
hits wait in the log meanwhile, so none is lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from republish.stats.rollup import RollupResult, rollup
from republish.store.db import Database

logger = logging.getLogger("republish.stats")


class RollupWorker:
    """``worker.start()`` ... ``worker.stop()`` (which runs one last pass)."""

    def __init__(
        self,
        db: Database,
        log_dir: Path,
        *,
        interval_s: float = 5.0,
        retention: timedelta = timedelta(days=7),
        after_pass: Callable[[RollupResult | None], object] | None = None,
    ) -> None:
        self.db = db
        # Called after every pass, failed ones too (e.g. delivering queued notifications).
        self.after_pass = after_pass
        self.log_dir = log_dir
        self.interval_s = interval_s
        self.retention = retention
        self.passes = 0
        self.failures = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rollup", daemon=True)

    def start(self) -> None:
        """Start rolling up in the background."""
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop after a final pass (so a graceful shutdown leaves nothing behind)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def run_once(self) -> RollupResult | None:
        """One pass; None if it failed (the error is logged and kept in ``last_error``)."""
        try:
            result = rollup(self.db, self.log_dir, retention=self.retention)
        except Exception as exc:  # an outage must not kill the worker
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            logger.warning("rollup failed, will retry: %s", self.last_error)
            return None
        self.passes += 1
        self.last_error = None
        return result

    def _tick(self) -> None:
        result = self.run_once()
        if self.after_pass is None:
            return
        try:
            self.after_pass(result)
        except Exception as exc:  # the hook must not kill the worker either
            first_line = f"{type(exc).__name__}: {exc}".splitlines()[0]
            logger.warning("after-rollup step failed, will retry: %s", first_line)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._tick()
        self._tick()
