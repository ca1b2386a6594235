"""URL helpers shared by every layer: normalising story URLs into lookup keys."""

from __future__ import annotations

from typing import Any
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


def on_domains(host: str, domains: tuple[str, ...]) -> bool:
    """True when ``host`` is one of ``domains`` or a subdomain of one ("" is on none)."""
    return bool(host) and any(host == d or host.endswith("." + d) for d in domains)


def page_url(referer: str) -> str:
    """The republishing page from a Referer: ``scheme://host/path`` with no query,
    fragment, credentials or default port; "" if it is not an http(s) URL.

    >>> page_url("https://User:pw@WWW.Example.org:443/news/story/?utm=1#c")
    'https://www.example.org/news/story/'
    """
    try:
        parts = urlsplit(referer.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    if port and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path or '/'}"


_extractor: Any = None


def registrable_domain(url_or_host: str) -> str:
    """The registrable domain ("site") of a URL or host name, using the public suffix
    list bundled with tldextract (never downloaded): ``news.bbc.co.uk`` -> ``bbc.co.uk``,
    ``me.github.io`` stays ``me.github.io`` (private suffixes count: each blog is a site).
    IP addresses are returned as they are; under a TLD missing from the list (``.example``,
    ``.test``) the last two labels are the site.
    """
    global _extractor
    if _extractor is None:
        import tldextract

        # No cache directory and no suffix-list URLs: the bundled snapshot only.
        _extractor = tldextract.TLDExtract(
            cache_dir=None, suffix_list_urls=(), include_psl_private_domains=True
        )
    host = urlsplit(url_or_host).hostname if "//" in url_or_host else url_or_host
    host = (host or "").lower().rstrip(".")
    if not host:
        return ""
    result = _extractor(host)
    if result.top_domain_under_public_suffix:
        return str(result.top_domain_under_public_suffix)
    labels = host.split(".")
    if result.suffix or len(labels) < 3 or labels[-1].isdigit() or ":" in host:
        return host  # an IP address, a bare suffix, or already two labels
    # A name outside the public suffix list (.example, .test, an intranet TLD): treat its
    # last label as the suffix.
    return ".".join(labels[-2:])
