"""URL helpers shared by every layer: normalising story URLs into lookup keys."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that never change which story a URL names.
_TRACKING_PREFIXES = ("utm_", "mc_", "fbclid", "gclid", "ref", "cmpid", "smid")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class InvalidURL(ValueError):
    """Not an absolute http(s) URL."""


def check_http_url(url: str) -> str:
    """Return ``url`` stripped, or raise :class:`InvalidURL` if it is not absolute http(s)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"not a valid URL: {url!r}") from exc
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        raise InvalidURL(f"not an absolute http(s) URL: {url!r}")
    del port
    return url


def url_key(url: str) -> str:
    """The normalised form of a story URL used to find it again.

    Scheme and host lower-cased, ``www.`` and default ports dropped, fragment and
    tracking parameters removed, trailing slash removed, ``http`` and ``https`` equal.

    >>> url_key("HTTPS://www.Example.com:443/news/a-story/?utm_source=x#top")
    'example.com/news/a-story'
    """
    parts = urlsplit(check_http_url(url))
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    if parts.port and parts.port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{parts.port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING_PREFIXES)
    ]
    path = parts.path.rstrip("/")
    return urlunsplit(("", host, path, urlencode(sorted(query)), ""))[2:]


def host_of(url: str) -> str:
    """Lower-cased host name of ``url`` without ``www.`` ("" if there is none)."""
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host
