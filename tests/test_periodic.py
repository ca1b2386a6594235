"""The background thread behind the rollup, the notification sender and the source
scheduler: ticks on its interval, at once when woken, once more when stopped."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from republish.periodic import Periodic


class Counting(Periodic):
    def __init__(self, interval_s: float, *, tick_last: bool = True) -> None:
        super().__init__("counting", interval_s, tick_first=False, tick_last=tick_last)
        self.ticks = 0
        self.ticked = threading.Event()

    def tick(self) -> None:
        self.ticks += 1
        self.ticked.set()


def test_wake_ticks_now_instead_of_after_the_interval() -> None:
    worker = Counting(3600)
    worker.start()
    try:
        time.sleep(0.05)
        assert worker.ticks == 0
        worker.wake()
        assert worker.ticked.wait(5)
        assert worker.ticks == 1
    finally:
        worker.stop()
    assert worker.ticks == 2  # the last tick on stop


def test_wakes_during_a_tick_are_one_tick() -> None:
    entered, leave = threading.Event(), threading.Event()

    class Slow(Counting):
        def tick(self) -> None:
            entered.set()
            leave.wait(5)
            super().tick()

    worker = Slow(3600, tick_last=False)
    worker.start()
    worker.wake()
    assert entered.wait(5)
    for _ in range(5):
        worker.wake()  # all while the first tick runs
    leave.set()
    time.sleep(0.2)
    worker.stop()
    assert worker.ticks == 2


def test_it_ticks_on_its_interval_and_stop_ends_the_wait() -> None:
    worker = Counting(0.02, tick_last=False)
    worker.start()
    time.sleep(0.3)
    started = time.monotonic()
    worker.stop()
    assert time.monotonic() - started < 1
    assert worker.ticks >= 3
    ticks = worker.ticks
    worker.wake()  # a no-op once stopped
    time.sleep(0.05)
    assert worker.ticks == ticks


def test_attempt_counts_keeps_and_logs_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    worker = Counting(3600)

    def broken() -> int:
        raise OSError("database down\nsecond line")

    with caplog.at_level(logging.WARNING, logger="republish.test"):
        assert worker.attempt("test pass", broken, logging.getLogger("republish.test")) is None
    assert (worker.passes, worker.failures) == (0, 1)
    assert worker.last_error == "OSError: database down"
    assert "test pass failed, will retry: OSError: database down" in caplog.text
    assert worker.attempt("test pass", lambda: 7, logging.getLogger("republish.test")) == 7
    assert (worker.passes, worker.failures, worker.last_error) == (1, 1, None)
