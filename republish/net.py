"""The one outbound HTTP client: every fetch of the project goes through here.

A URL someone hands us must not let them reach inside our network (SSRF). So: only
http(s) URLs without credentials; every address a host resolves to must be a global
one (not loopback, private, link-local, metadata, ...), checked after resolution and
again on every redirect hop; and the socket connects to exactly the address that was
checked, never to a second lookup, so DNS rebinding cannot swap it. Size and total
wall time are bounded, decompression included. ``Settings.fetch_allow`` opens named
hosts or ranges (the demo and the tests reach their own loopback servers that way).

>>> with Client(settings) as client:  # doctest: +SKIP
...     page = client.fetch("https://news.example/story", accept=("text/html",))
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType

import httpx

from republish._netbody import (
    Inflater,
    Overflow,
    UnknownEncoding,
    accepted,
    content_type,
    decode_text,
    describe,
    size_text,
)
from republish._netguard import (
    BadURL,
    BlockedAddress,
    FetchError,
    Resolver,
    check_address,
    display_url,
    is_ip_literal,
    parse_allow,
    parse_url,
    system_resolver,
)
from republish._nettransport import Deadline, GuardedBackend, GuardedTransport
from republish.config import Settings

__all__ = [
    "BadURL",
    "BlockedAddress",
    "Client",
    "ConnectFailed",
    "FetchError",
    "FetchResult",
    "FetchTimeout",
    "HTTPStatusError",
    "Resolver",
    "TooLarge",
    "TooManyRedirects",
    "UnsupportedContent",
    "check_address",
    "fetch",
    "parse_url",
]

log = logging.getLogger("republish.net")

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Headers a caller may not set: we decide where the request goes and how it is framed.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


class TooLarge(FetchError):
    """The response body is (or would be, once decompressed) over ``fetch_max_bytes``."""


class TooManyRedirects(FetchError):
    """More than ``fetch_max_redirects`` redirects, or a redirect loop."""


class HTTPStatusError(FetchError):
    """The server answered 4xx or 5xx; ``status`` holds the code."""

    def __init__(self, message: str, *, url: str = "", status: int) -> None:
        super().__init__(message, url=url)
        self.status = status


class FetchTimeout(FetchError):
    """The whole fetch took longer than ``fetch_timeout_s``."""


class UnsupportedContent(FetchError):
    """The response is not of a media type (or content encoding) the caller accepts."""


class ConnectFailed(FetchError):
    """The host could not be resolved or connected to, or the connection broke."""


@dataclass(frozen=True)
class FetchResult:
    """One fetched response; ``content`` is the decoded (decompressed) body."""

    url: str
    status: int
    headers: httpx.Headers
    content: bytes
    content_type: str
    charset: str | None

    def text(self) -> str:
        """The body as text: BOM, declared charset, ``<meta>``/XML declaration, else UTF-8."""
        return decode_text(self.content, self.charset)


def _read_body(response: httpx.Response, max_bytes: int, deadline: Deadline) -> bytes:
    """The decoded body, or :class:`Overflow` as soon as raw or decoded size passes the limit."""
    inflater = Inflater(response.headers.get("content-encoding", ""), max_bytes)
    raw_bytes = 0
    body = bytearray()
    for chunk in response.iter_raw():
        raw_bytes += len(chunk)
        if raw_bytes > max_bytes:
            raise Overflow
        body += inflater.feed(chunk)
        if len(body) > max_bytes:
            raise Overflow
        deadline.clamp(None, httpx.ReadTimeout)
    return bytes(body)


# --- the client ------------------------------------------------------------------------


def _no_cookies() -> CookieJar:
    # A crawler carries no cookies from one site or fetch to the next.
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def _origin(url: httpx.URL) -> tuple[str, bytes, int | None]:
    return url.scheme, url.raw_host, url.port


class Client:
    """The guarded outbound client; reuse one for many fetches, close it when done.

    ``resolver(host, port) -> [ip, ...]`` replaces the system resolver (tests use stubs).
    """

    def __init__(self, settings: Settings, *, resolver: Resolver | None = None) -> None:
        self._settings = settings
        self._allow = tuple(settings.fetch_allow)
        parse_allow(self._allow, strict=True)
        self._deadline = Deadline()
        backend = GuardedBackend(resolver or system_resolver, self._allow, self._deadline)
        self._http = httpx.Client(
            transport=GuardedTransport(backend),
            trust_env=False,
            follow_redirects=False,
            cookies=_no_cookies(),
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=settings.fetch_timeout_s,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections."""
        self._http.close()

    def fetch(
        self,
        url: str,
        *,
        accept: Sequence[str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> FetchResult:
        """GET ``url`` following redirects; raise a :class:`FetchError` subclass on any refusal.

        ``accept``: media types the caller can use (others raise UnsupportedContent).
        ``headers``: extra request headers (e.g. If-None-Match); a 304 answer is returned.
        """
        self._deadline.at = time.monotonic() + self._settings.fetch_timeout_s
        try:
            result = self._follow(url, accept, dict(headers or {}))
        except FetchError as exc:
            log.debug("fetch %s failed: %s", display_url(url), exc)
            raise
        finally:
            self._deadline.at = None
        log.debug("fetch %s -> %d, %d bytes", display_url(url), result.status, len(result.content))
        return result

    def post(
        self, url: str, *, content: bytes, headers: Mapping[str, str] | None = None
    ) -> FetchResult:
        """POST ``content`` to ``url`` with the same guard and limits as :meth:`fetch`.

        Redirects are not followed (a 3xx raises :class:`HTTPStatusError`): a body must not
        be replayed to wherever a server points.
        """
        self._deadline.at = time.monotonic() + self._settings.fetch_timeout_s
        extra = {k: v for k, v in (headers or {}).items() if k.lower() not in _RESERVED_HEADERS}
        # Not logged here: a webhook URL can itself be a secret (the caller redacts it).
        try:
            target = parse_url(url).copy_with(fragment=None)
            outcome = self._hop(target, None, None, extra, method="POST", content=content)
        finally:
            self._deadline.at = None
        if isinstance(outcome, str):
            raise HTTPStatusError(
                f"{display_url(url)} answered with a redirect (not followed for POST)",
                url=url,
                status=302,
            )
        if 300 <= outcome.status < 400:
            raise HTTPStatusError(
                f"{display_url(url)} answered {outcome.status}", url=url, status=outcome.status
            )
        return outcome

    def _follow(self, url: str, accept: Sequence[str] | None, extra: dict[str, str]) -> FetchResult:
        extra = {k: v for k, v in extra.items() if k.lower() not in _RESERVED_HEADERS}
        if accept:
            extra.setdefault("Accept", ", ".join([*accept, "*/*;q=0.1"]))
        current = parse_url(url).copy_with(fragment=None)
        first_origin = _origin(current)
        seen = {str(current)}
        came_from: str | None = None
        for _ in range(self._settings.fetch_max_redirects + 1):
            same_origin = _origin(current) == first_origin
            outcome = self._hop(current, came_from, accept, extra if same_origin else {})
            if isinstance(outcome, FetchResult):
                return outcome
            try:
                target = parse_url(outcome, base=str(current))
            except BadURL as exc:
                via = display_url(str(current))
                raise BadURL(f"{exc} (redirected from {via})", url=outcome) from None
            log.debug("redirect %s -> %s", display_url(str(current)), display_url(str(target)))
            target = target.copy_with(fragment=None)
            key = str(target)
            if key in seen:
                raise TooManyRedirects(
                    f"redirect loop: {display_url(str(current))} leads back to {display_url(key)}",
                    url=key,
                )
            seen.add(key)
            came_from, current = str(current), target
        raise TooManyRedirects(
            f"{display_url(url)} redirected more than {self._settings.fetch_max_redirects} times",
            url=url,
        )

    def _hop(
        self,
        url: httpx.URL,
        came_from: str | None,
        accept: Sequence[str] | None,
        extra: dict[str, str],
        *,
        method: str = "GET",
        content: bytes | None = None,
    ) -> FetchResult | str:
        """One request: a result, or the Location of a redirect."""
        shown = display_url(str(url))
        via = f" (redirected from {display_url(came_from)})" if came_from else ""
        try:
            host = url.raw_host.decode("ascii")
            if is_ip_literal(host):
                check_address(host, self._allow)
            left = self._deadline.clamp(None, httpx.TimeoutException)
            with self._http.stream(
                method, url, headers=extra, content=content, timeout=left
            ) as response:
                location: str | None = response.headers.get("location")
                if response.status_code in _REDIRECTS and location:
                    return location
                return self._result(url, response, accept)
        except BlockedAddress as exc:
            raise BlockedAddress(f"refused {shown}{via}: {exc}", url=str(url)) from None
        except httpx.TimeoutException:
            raise FetchTimeout(
                f"{shown} took longer than {self._settings.fetch_timeout_s:g} s{via}", url=str(url)
            ) from None
        except httpx.ConnectError as exc:
            raise ConnectFailed(f"could not connect to {shown}{via}: {exc}", url=str(url)) from None
        except httpx.HTTPError as exc:
            raise ConnectFailed(f"fetching {shown} failed{via}: {exc}", url=str(url)) from None

    def _result(
        self, url: httpx.URL, response: httpx.Response, accept: Sequence[str] | None
    ) -> FetchResult:
        shown = display_url(str(url))
        status = response.status_code
        if status >= 400:
            raise HTTPStatusError(
                f"{shown} answered {status} {response.reason_phrase}".rstrip(),
                url=str(url),
                status=status,
            )
        media, charset = content_type(response.headers.get("content-type", ""))
        if status in (204, 304):
            return FetchResult(str(url), status, response.headers, b"", media, charset)
        if accept is not None and not accepted(media, accept):
            got = media or "no content type"
            raise UnsupportedContent(
                f"expected {describe(accept)}, got {got} at {shown}", url=str(url)
            )
        max_bytes = self._settings.fetch_max_bytes
        too_large = TooLarge(
            f"{shown} is larger than the {size_text(max_bytes)} limit", url=str(url)
        )
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > max_bytes:
            raise too_large
        try:
            content = _read_body(response, max_bytes, self._deadline)
        except Overflow:
            raise too_large from None
        except UnknownEncoding as exc:
            raise UnsupportedContent(
                f"{shown} came in an encoding we did not ask for: {exc}", url=str(url)
            ) from None
        except zlib.error:
            raise ConnectFailed(f"{shown} sent a corrupt compressed body", url=str(url)) from None
        return FetchResult(str(url), status, response.headers, content, media, charset)


def fetch(
    url: str,
    settings: Settings,
    *,
    accept: Sequence[str] | None = None,
    resolver: Resolver | None = None,
    headers: Mapping[str, str] | None = None,
) -> FetchResult:
    """Fetch one URL with a throwaway :class:`Client` (use a Client for many)."""
    with Client(settings, resolver=resolver) as client:
        return client.fetch(url, accept=accept, headers=headers)
