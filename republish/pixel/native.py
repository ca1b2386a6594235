"""The pixel on its compiled HTTP front (``republish/pixel/_native.c``).

The same pixel as :mod:`republish.pixel.server`, with the per-request work in C: an epoll
loop parses the request heads, classifies each hit, builds its log line and answers once
the line is durable; a second thread appends each batch to the segment and makes it
durable (``write`` + ``fdatasync``) while the loop keeps reading (group commit). What is
not per request stays in Python and is called from C only when needed:

- the User-Agent's verdict (:meth:`HitCore.ua_facts`, the bot rules) and the Referer's page
  URL and CMS-preview verdict (:func:`republish.pixel.core.referer_facts`), each cached in
  C per distinct value (4096 of each, values over 2048 bytes not cached, as in Python);
- the day's salt (:class:`DailySalts`), once per day;
- the segment files (:meth:`HitLog.advance`: naming, rotation, sealing, zeros written
  ahead of the data), asked at least once a second, once per MiB written and before a
  batch would pass the zeros, so a segment may pass its size limit by up to 1 MiB before
  it is sealed.

The log lines are byte-for-byte those of :class:`HitCore` (tests send the same requests
through both). Differences from the Python server, all on requests no pixel sends: only
the methods GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH and TRACE are accepted, and a
request with ``Transfer-Encoding`` or a repeated ``Content-Length`` gets a 400 (bodies
with one ``Content-Length`` are skipped). Linux only (epoll, eventfd); where the extension
is not built, :func:`available` is False and ``republish pixel`` uses the builtin server.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import FrameType, ModuleType

from republish.hits import DropReason
from republish.pixel.bots import BotFilter
from republish.pixel.core import PixelFront, referer_facts
from republish.pixel.server import BAD_REQUEST, IDLE_TIMEOUT_S, TOO_LARGE, Responses

__all__ = ["REASONS", "NativePixelServer", "available", "run"]

logger = logging.getLogger("republish.pixel")

native: ModuleType | None
try:
    from republish.pixel import _native as native
except ImportError:  # not built (no C compiler at install time, or not Linux)
    native = None

# Drop reasons in the order the C code numbers them.
REASONS = (
    DropReason.NONE,
    DropReason.BOT_USER_AGENT,
    DropReason.NO_USER_AGENT,
    DropReason.PREFETCH,
    DropReason.CMS_PREVIEW,
    DropReason.MALFORMED,
)
_CODE = {reason: code for code, reason in enumerate(REASONS)}
_CONNECTIONS = ("", "close", "keep")  # in the order of the C code's C_DEFAULT, C_CLOSE, C_KEEP
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def available() -> bool:
    """Whether the compiled front was built for this installation."""
    return native is not None


def answers() -> list[bytes]:
    """Every answer, indexed as the C code does: (reason * 2 + HEAD) * 3 + connection.
    The C code writes the current Date into each once a second."""
    responses = Responses()
    return [
        responses.get(reason, head, connection)
        for reason in REASONS
        for head in (False, True)
        for connection in _CONNECTIONS
    ]


class NativePixelServer(PixelFront):
    """The pixel over HTTP/1.1 on the compiled front::

    server = NativePixelServer(Path("hits"))
    server.serve("127.0.0.1", 8001)   # blocks until server.stop() (from any thread)
    """

    def __init__(
        self,
        log_dir: Path,
        *,
        client_ip_header: str = "",
        bots: BotFilter | None = None,
        clock: Callable[[], float] = time.time,
        sync: bool = True,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
    ) -> None:
        if native is None:
            raise RuntimeError("the pixel's compiled front is not built in this installation")
        super().__init__(
            log_dir, client_ip_header=client_ip_header, bots=bots, clock=clock, sync=sync
        )
        self._front = native.Server(
            answers(),
            (BAD_REQUEST, TOO_LARGE),
            self.core.client_ip_header,
            self._ua_facts,
            referer_facts,
            self._salt_for_day,
            self.log.advance,
            self.log.report_failure,
            idle_timeout_s,
        )

    def _ua_facts(self, raw: bytes) -> tuple[int, bytes]:
        reason, hashed = self.core.ua_facts(raw)
        return _CODE.get(reason, _CODE[DropReason.BOT_USER_AGENT]), hashed

    def _salt_for_day(self, day: int) -> bytes:
        return self.core.salts.salt_for(date.fromordinal(_EPOCH_ORDINAL + day))

    def counts(self) -> tuple[int, int]:
        """Requests recorded and requests refused as bad (400/431), so far."""
        recorded, refused = self._front.counts()
        return int(recorded), int(refused)

    def durable_times(self) -> list[int]:
        """Batches made durable so far, by the time it took (the segment, the write and
        the ``fdatasync``): item ``b`` counts those of ``2**b`` to ``2**(b+1)``
        microseconds (item 0 from 0, the last item everything longer)."""
        return [int(n) for n in self._front.durable_times()]

    def summary(self) -> str:
        """One line on what was served: hits recorded, and how long batches took to
        become durable (upper bounds, from :meth:`durable_times`)."""
        recorded, refused = self.counts()
        line = f"{recorded:,} hits recorded, {refused:,} requests refused"
        times = self.durable_times()
        total = sum(times)
        if not total:
            return line + "."

        def within(share: float) -> str:
            seen = 0
            for bucket, count in enumerate(times):
                seen += count
                if seen >= share * total:
                    return _duration(2 ** (bucket + 1))
            return _duration(2 ** len(times))

        longest = max(bucket for bucket, count in enumerate(times) if count)
        return (
            f"{line}; {total:,} batches made durable, half within {within(0.5)}, "
            f"99% within {within(0.99)}, the longest within {_duration(2 ** (longest + 1))}."
        )

    def stop(self) -> None:
        """Begin a graceful stop: from any thread, a signal handler, or before serve."""
        self._front.stop()

    def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 8001,
        *,
        sock: socket.socket | None = None,
        wake_fd: int = -1,
    ) -> None:
        """Listen on ``host:port`` (or ``sock``) until :meth:`stop`; then answer what is
        recorded, write the last batch and seal the segment. ``wake_fd``: a descriptor
        given to :func:`signal.set_wakeup_fd`, so that Python signal handlers run."""
        self.seal_orphans()
        own = sock is None
        if sock is None:
            try:
                sock = socket.create_server((host, port), backlog=2048)
            except OSError as exc:  # worded as asyncio's, which the other servers use
                reason = (os.strerror(exc.errno) if exc.errno else str(exc)).lower()
                raise OSError(
                    exc.errno,
                    f"error while attempting to bind on address {(host, port)!r}: {reason}",
                ) from None
        sock.setblocking(False)
        try:
            self._front.serve(sock.fileno(), wake_fd)
        finally:
            self.log.close_now()
            if own:
                sock.close()


def _duration(microseconds: int) -> str:
    if microseconds < 1000:
        return f"{microseconds} µs"
    if microseconds < 1_000_000:
        return f"{microseconds / 1000:g} ms"
    return f"{microseconds / 1_000_000:g} s"


def run(server: NativePixelServer, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT (handled in Python, woken through a wakeup fd)."""
    if threading.current_thread() is not threading.main_thread():
        server.serve(host, port)
        return
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        server.stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    old_wakeup = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    try:
        server.serve(host, port, wake_fd=reader.fileno())
    finally:
        signal.set_wakeup_fd(old_wakeup)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        reader.close()
        writer.close()
