"""A background thread that does one job every few seconds until it is stopped.

The in-process rollup, the notification sender and the source scheduler under
``republish serve`` are each one.
A failing pass must never end the thread (a database outage passes): subclasses run
their pass through :meth:`Periodic.attempt`, which catches what it raises, counts it and
keeps the one-line reason from :func:`error_line`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def error_line(exc: BaseException) -> str:
    """``"Type: first line of the message"``: what a failed pass logs and keeps."""
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


class Periodic:
    """``start()`` runs :meth:`tick` every ``interval_s`` seconds in a daemon thread.

    ``tick_first``: tick at once on start (else after the first interval).
    ``tick_last``: tick once more on :meth:`stop`, so a graceful stop leaves nothing behind.
    :meth:`wake` asks for a tick now instead of at the end of the interval.
    """

    def __init__(self, name: str, interval_s: float, *, tick_first: bool, tick_last: bool) -> None:
        self.interval_s = interval_s
        self._tick_first = tick_first
        self._tick_last = tick_last
        self._stop = threading.Event()
        self._wake = threading.Event()  # set by wake() and stop(): end the current wait
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.passes = 0  # passes that succeeded
        self.failures = 0  # passes that raised
        self.last_error: str | None = None  # why the last pass failed; None after a success

    def attempt(self, what: str, work: Callable[[], T], log: logging.Logger) -> T | None:
        """One pass of ``work``: its result, or None if it raised (an outage must not end
        the thread): then the failure is counted, kept in ``last_error`` and logged as
        "``what`` failed, will retry: reason"."""
        try:
            result = work()
        except Exception as exc:
            self.failures += 1
            self.last_error = error_line(exc)
            log.warning("%s failed, will retry: %s", what, self.last_error)
            return None
        self.passes += 1
        self.last_error = None
        return result

    def tick(self) -> None:
        """One pass; must not raise."""
        raise NotImplementedError

    def start(self) -> None:
        """Start ticking in the background."""
        self._thread.start()

    def wake(self) -> None:
        """Tick as soon as the pass in progress (if any) is done; a no-op once stopped.

        Wakes that come during a pass are one tick, not one each.
        """
        self._wake.set()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop after the pass in progress (and the last one, with ``tick_last``)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        if self._tick_first:
            self.tick()
        while True:
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            self.tick()
        if self._tick_last:
            self.tick()
