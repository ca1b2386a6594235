"""The transport under :mod:`republish.net`: resolve once, check, connect, stop on time.

httpx 0.28 has no hook for a custom network backend, so :class:`GuardedTransport` is the
small equivalent of ``httpx.HTTPTransport`` built on httpcore's public API, with
:class:`GuardedBackend` plugged into its connection pool.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from ssl import SSLContext
from typing import Any

import httpcore
import httpx

from republish._netguard import BlockedAddress, Resolver, host_refusal, is_ip_literal

log = logging.getLogger("republish.net")


class Deadline(threading.local):
    """The wall-clock deadline of the fetch running on this thread (``None``: no fetch)."""

    at: float | None = None

    def clamp(self, timeout: float | None, error: type[Exception]) -> float | None:
        """``timeout`` shortened to what is left of the deadline; ``error`` once it passed."""
        if self.at is None:
            return timeout
        left = self.at - time.monotonic()
        if left <= 0:
            raise error("the time allowed for this fetch ran out")
        return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write stops at the fetch deadline.

    Per-operation timeouts alone would let a server trickle one byte a second forever.
    """

    def __init__(self, inner: httpcore.NetworkStream, deadline: Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = self._deadline.clamp(timeout, httpcore.ConnectTimeout)
        tls = self._inner.start_tls(ssl_context, server_hostname, timeout)
        return DeadlineStream(tls, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.SyncBackend):
    """Resolves once, checks every address, then connects to a checked address only.

    httpcore hands us the URL's host name; TLS SNI and the Host header keep using it.
    """

    def __init__(self, resolver: Resolver, allow: tuple[str, ...], deadline: Deadline) -> None:
        self._resolver = resolver
        self._allow = allow
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._checked_addresses(host, port)
        error: Exception | None = None
        for ip in addresses:
            try:
                stream = super().connect_tcp(
                    ip,
                    port,
                    timeout=self._deadline.clamp(timeout, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                error = exc
                continue
            log.debug("connected to %s port %d for %s", ip, port, host)
            return DeadlineStream(stream, self._deadline)
        raise httpcore.ConnectError(str(error) if error else f"no address for {host}")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: object = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("Unix sockets are never used by the outbound client")

    def _checked_addresses(self, host: str, port: int) -> list[str]:
        if is_ip_literal(host):
            addresses = [host]
        else:
            addresses = list(dict.fromkeys(self._resolve(host, port)))
            if not addresses:
                raise httpcore.ConnectError(f"{host} has no address")
        for ip in addresses:
            why = host_refusal(host, ip, self._allow)
            if why:
                raise BlockedAddress(why)
        return addresses

    def _resolve(self, host: str, port: int) -> list[str]:
        """Run the resolver in a helper thread so a slow DNS answer cannot outlast the deadline."""
        outcome: list[list[str] | BaseException] = []

        def run() -> None:
            try:
                outcome.append(list(self._resolver(host, port)))
            except BaseException as exc:  # handed back to the fetching thread
                outcome.append(exc)

        worker = threading.Thread(target=run, name="republish-resolve", daemon=True)
        worker.start()
        worker.join(self._deadline.clamp(None, httpcore.ConnectTimeout))
        if not outcome:
            raise httpcore.ConnectTimeout(f"resolving {host} took too long")
        result = outcome[0]
        if isinstance(result, OSError):
            raise httpcore.ConnectError(f"could not resolve {host}")
        if isinstance(result, BaseException):
            raise result
        return result


# --- an httpx transport over that backend (public httpcore API only) ------------------

_CORE_TO_HTTPX: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


@contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core_error, httpx_error in _CORE_TO_HTTPX:
            if isinstance(exc, core_error):
                raise httpx_error(str(exc)) from exc
        raise


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class GuardedTransport(httpx.BaseTransport):
    """httpx transport on an httpcore pool that uses :class:`GuardedBackend`.

    httpx 0.28 has no hook for a network backend, so this is the small equivalent of
    ``httpx.HTTPTransport`` built on httpcore's public API.
    """

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=True, trust_env=False),
            max_connections=20,
            max_keepalive_connections=10,
            keepalive_expiry=5.0,
            network_backend=backend,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, Iterable)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            core_response = self._pool.handle_request(core_request)
        assert isinstance(core_response.stream, Iterable)
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_ResponseStream(core_response.stream),
            extensions=core_response.extensions,
        )

    def close(self) -> None:
        self._pool.close()
