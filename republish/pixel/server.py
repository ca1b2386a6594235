"""A dedicated HTTP/1.1 server for the pixel: asyncio protocol, uvloop and httptools.

``republish pixel`` serves with this by default, because it answered the most requests
per second on one core in ``bench/pixel`` (uvicorn and granian stay selectable; the
measurements and the reasons are in ``bench/pixel/notes.md``). It does just what the
pixel needs and no more:

- any request that parses as HTTP/1.x gets the pixel's 200 GIF (``HEAD`` without body),
  with the same headers as :class:`republish.pixel.app.PixelApp`, and is recorded: a path
  other than ``/p/{id}.gif`` as ``malformed``, exactly as the ASGI app does;
- the hit goes through :class:`HitCore` and the same :class:`HitLog` group commit, and the
  answer is written only once the hit's batch is durable;
- keep-alive (HTTP/1.1 by default, HTTP/1.0 on request), ``Connection: close``, and
  pipelining: answers leave in request order;
- what does not parse as HTTP, and a request line plus headers over
  :data:`MAX_HEAD_BYTES`, get a 400 (or 431) and the connection is closed; nothing is
  recorded, since no pixel was asked for. Bodies are skipped, never buffered;
- connections idle for :data:`IDLE_TIMEOUT_S` (also half-sent requests) are closed;
- SIGTERM or SIGINT: stop accepting, answer every request already recorded, close the
  connections, then make the log durable and seal it.

No access log, no IP address or User-Agent kept beyond the request.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
from collections import deque
from email.utils import formatdate
from typing import cast
from urllib.parse import unquote

import httptools

from republish.hits import DropReason
from republish.pixel.app import GIF, RESPONSE_HEADERS
from republish.pixel.core import PixelFront

__all__ = ["IDLE_TIMEOUT_S", "MAX_HEAD_BYTES", "PixelServer", "run"]

logger = logging.getLogger("republish.pixel")

MAX_HEAD_BYTES = 16 * 1024  # request line and headers of one request
IDLE_TIMEOUT_S = 5.0
DRAIN_TIMEOUT_S = 10.0
_CONNECTION = {"": b"", "close": b"Connection: close\r\n", "keep": b"Connection: keep-alive\r\n"}


_NONE = DropReason.NONE  # enum members read off the class are slow in 3.11


class _TooLarge(Exception):
    pass


def _error_response(status: bytes) -> bytes:
    body = status + b"\n"
    return (
        b"HTTP/1.1 %b\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
        b"Connection: close\r\n\r\n%b" % (status, len(body), body)
    )


BAD_REQUEST = _error_response(b"400 Bad Request")
TOO_LARGE = _error_response(b"431 Request Header Fields Too Large")


class Responses:
    """Every answer the server sends, as bytes, rebuilt when the Date changes."""

    def __init__(self) -> None:
        self._cache: dict[tuple[DropReason, bool, str], bytes] = {}
        self._date = b""
        self.refresh()

    def refresh(self) -> None:
        date = formatdate(time.time(), usegmt=True).encode()
        if date != self._date:
            self._date = date
            self._cache = {}

    def get(self, reason: DropReason, head: bool, connection: str) -> bytes:
        key = (reason, head, connection)
        response = self._cache.get(key)
        if response is None:
            lines = [b"HTTP/1.1 200 OK", b"Date: " + self._date]
            for name, value in RESPONSE_HEADERS[reason]:
                lines.append(b"%b: %b" % (name.title(), value))
            response = b"\r\n".join(lines) + b"\r\n" + _CONNECTION[connection] + b"\r\n"
            if not head:
                response += GIF
            self._cache[key] = response
        return response


class _Connection(asyncio.Protocol):
    """One client connection: parse requests, record hits, answer once durable."""

    __slots__ = (
        "active",
        "closing",
        "fields",
        "head_bytes",
        "last",
        "owed",
        "parser",
        "peer",
        "server",
        "transport",
        "url",
        "wanted",
    )

    def __init__(self, server: PixelServer) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.url = b""
        self.fields: dict[bytes, bytes] = {}
        self.wanted = server.header_names
        self.head_bytes = 0
        self.owed: deque[bytes] = deque()  # answers waiting for their hit to be durable
        self.last: bytes | None = None  # sent after the owed answers, then close
        self.closing = False  # no more requests are read
        self.active = 0.0

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else ""
        self.active = self.server.now
        self.server.connections.add(self)
        if self.server.stopping:
            self.finish(None)

    def connection_lost(self, exc: Exception | None) -> None:
        # Hits already queued stay recorded; their answers are dropped.
        self.transport = None
        self.closing = True
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.active = self.server.now
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if not self.closing:
                self.finish(TOO_LARGE if isinstance(exc.__context__, _TooLarge) else BAD_REQUEST)
        except httptools.HttpParserUpgrade:
            pass  # answered as a close in on_message_complete
        except httptools.HttpParserError:
            if not self.closing:  # after a close, the rest of the data is ignored
                self.finish(BAD_REQUEST)

    def pause_writing(self) -> None:
        # A client that sends without reading its answers: stop reading its requests.
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.closing:
            self.transport.resume_reading()

    # httptools callbacks

    def on_url(self, url: bytes) -> None:
        self.head_bytes += len(url)
        if self.head_bytes > MAX_HEAD_BYTES:
            raise _TooLarge
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_bytes += len(name) + len(value) + 4
        if self.head_bytes > MAX_HEAD_BYTES:
            raise _TooLarge
        name = name.lower()
        if name in self.wanted:
            self.fields[name] = value

    def on_message_complete(self) -> None:
        if self.closing:
            return
        parser = self.parser
        keep_alive = parser.should_keep_alive()
        connection = "" if keep_alive else "close"
        header = self.fields.get(b"connection")
        if header is not None:  # HTTP/1.0 keep-alive is confirmed; upgrades are refused
            if parser.should_upgrade():
                keep_alive, connection = False, "close"
            elif keep_alive and b"keep-alive" in header.lower():
                connection = "keep"
        server = self.server
        reason = _NONE
        line = b""
        url, fields = self.url, self.fields
        self.url, self.fields, self.head_bytes = b"", {}, 0  # for the next request
        try:
            line, reason = server.core.hit(_path(url), fields, self.peer)
        except Exception:  # the pixel always answers; the failure is logged
            logger.exception("hit not recorded")
        self.owed.append(server.responses.get(reason, parser.get_method() == b"HEAD", connection))
        server.log.submit(line, self.durable)
        if not keep_alive:
            self.closing = True

    # answers

    def durable(self, error: OSError | None) -> None:
        """The oldest owed hit is on disk (or failed, logged by the log): answer it."""
        response = self.owed.popleft()
        transport = self.transport
        if transport is None:
            return
        transport.write(response)
        if not self.owed:
            if self.closing:
                if self.last is not None:
                    transport.write(self.last)
                transport.close()

    def finish(self, last: bytes | None) -> None:
        """Read no more; send ``last`` after what is owed, then close."""
        self.closing = True
        if self.transport is None:
            return
        if self.owed:
            self.last = last
            return
        if last is not None:
            self.transport.write(last)
        self.transport.close()


def _path(url: bytes) -> str:
    if url.startswith(b"/p/") and b"?" not in url and b"%" not in url:
        return url.decode("latin-1")
    if not url.startswith(b"/"):  # absolute form: GET http://host/p/x.gif HTTP/1.1
        try:
            url = httptools.parse_url(url).path or b""
        except httptools.HttpParserInvalidURLError:
            return ""
    end = url.find(b"?")
    if end >= 0:
        url = url[:end]
    path = url.decode("latin-1")
    return unquote(path) if "%" in path else path


class PixelServer(PixelFront):
    """The pixel over HTTP/1.1, on one event loop::

    server = PixelServer(Path("hits"))
    await server.serve("127.0.0.1", 8001)   # until server.stop()
    """

    def _prepare(self) -> None:
        self.header_names = self.core.header_names | {b"connection"}
        self.responses = Responses()
        self.connections: set[_Connection] = set()
        self.stopping = False
        self.now = time.monotonic()
        self._stopped: asyncio.Event | None = None
        self._stop_requested = False

    def stop(self) -> None:
        """Begin a graceful stop (from the server's loop: a signal handler, or
        ``loop.call_soon_threadsafe``; more than once is fine)."""
        self._stop_requested = True
        if self._stopped is not None:
            self._stopped.set()

    async def serve(
        self, host: str = "127.0.0.1", port: int = 8001, *, sock: socket.socket | None = None
    ) -> None:
        """Listen on ``host:port`` (or ``sock``) until :meth:`stop`, then stop gracefully."""
        loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self.seal_orphans()
        if sock is not None:
            server = await loop.create_server(lambda: _Connection(self), sock=sock, backlog=2048)
        else:
            server = await loop.create_server(
                lambda: _Connection(self), host, port, backlog=2048, reuse_address=True
            )
        ticker = loop.create_task(self._tick())
        if self._stop_requested:
            self._stopped.set()
        try:
            await self._stopped.wait()
        finally:
            server.close()
            self.stopping = True
            for connection in list(self.connections):
                connection.finish(None)  # after the answers it owes
            deadline = loop.time() + DRAIN_TIMEOUT_S
            while self.connections and loop.time() < deadline:
                await asyncio.sleep(0.01)
            ticker.cancel()
            await self.log.aclose()
            for connection in list(self.connections):  # stuck past the deadline
                if connection.transport is not None:
                    connection.transport.abort()

    async def _tick(self) -> None:
        """Once a second: refresh the Date header, close idle connections."""
        while True:
            await asyncio.sleep(1.0)
            self.now = time.monotonic()
            self.responses.refresh()
            for connection in list(self.connections):
                if not connection.owed and self.now - connection.active > IDLE_TIMEOUT_S:
                    connection.finish(None)


def run(server: PixelServer, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT, on uvloop when it is installed."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, server.stop)
        await server.serve(host, port)

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        asyncio.run(main())
    else:
        uvloop.run(main())
