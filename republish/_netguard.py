"""The SSRF guard behind :mod:`republish.net`: which URLs and addresses may be fetched.

Pure checks, no network: :func:`parse_url` refuses URLs whose meaning parsers disagree
on, :func:`check_address` refuses addresses inside our network. Import from
:mod:`republish.net`, not from here.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
from collections.abc import Callable, Sequence

import httpx
import idna

from republish.config import SettingsError

Resolver = Callable[[str, int], list[str]]
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class FetchError(Exception):
    """An outbound fetch failed or was refused; ``str()`` is a one-line message for users."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class BlockedAddress(FetchError):
    """The host is, or resolves to, an address the client never connects to."""


class BadURL(FetchError):
    """Not a fetchable URL: not http(s), credentials, or a host parsers read differently."""


# --- addresses ---------------------------------------------------------------------------

# Metadata services hand out cloud credentials; refused even inside an allowed range.
_METADATA = frozenset(
    ipaddress.ip_address(ip)
    for ip in (
        "169.254.169.254",  # AWS, GCP, Azure, DigitalOcean, OpenStack, Hetzner, ...
        "169.254.169.253",  # AWS VPC DNS
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.170.23",  # AWS EKS pod identity
        "fd00:ec2::254",  # AWS, IPv6
        "fd00:ec2::253",
        "fd00:ec2::23",
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "168.63.129.16",  # Azure WireServer: a public address, so listed by hand
    )
)

# First match wins, so more specific ranges come first.
_REFUSED: tuple[tuple[_Network, str], ...] = tuple(
    (ipaddress.ip_network(cidr), why)
    for cidr, why in (
        ("0.0.0.0/8", "an unspecified (this-network) address"),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "a reserved (IETF protocol) address"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a reserved (6to4 relay) address"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("240.0.0.0/4", "a reserved address"),
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("::/96", "an IPv4-compatible address (deprecated)"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("100::/64", "a discard-only address"),
        ("2001::/23", "a reserved (IETF protocol) address"),
        ("2001:db8::/32", "a documentation address"),
        ("3fff::/20", "a documentation address"),
        ("fc00::/7", "a unique-local address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_HOSTNAME = re.compile(r"(?:[a-z0-9_-]+\.)*[a-z0-9_-]+\.?\Z")


def _embedded_ipv4(ip: _Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def _classify(ip: _Address) -> str | None:
    """Why ``ip`` is refused regardless of any allow-list, or ``None``."""
    for network, why in _REFUSED:
        if ip.version == network.version and ip in network:
            return why
    inner = _embedded_ipv4(ip)
    if inner is not None:
        inner_why = _classify(inner)
        return f"a form of {inner}, {inner_why}" if inner_why else None
    if not ip.is_global:
        return "not a global address"
    return None


@functools.lru_cache(maxsize=64)
def parse_allow(
    allow: tuple[str, ...], *, strict: bool = False
) -> tuple[tuple[_Network, ...], frozenset[str]]:
    """Split ``fetch_allow`` into IP networks and host names (``strict``: refuse junk)."""
    networks: list[_Network] = []
    hosts: set[str] = set()
    for entry in allow:
        text = entry.strip().lower()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text.strip("[]"), strict=False))
        except ValueError:
            if strict and (not _HOSTNAME.match(text) or _ends_in_number(text)):
                raise SettingsError(
                    f"REPUBLISH_FETCH_ALLOW: {entry!r} is neither a host name nor an IP range"
                ) from None
            hosts.add(text.rstrip("."))
    return tuple(networks), frozenset(hosts)


def _parse_ip(text: str) -> _Address | None:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        ip = ipaddress.IPv6Address(text.partition("%")[0])
    return ip


def _refusal(text: str, allow: tuple[str, ...], host_allowed: bool = False) -> str | None:
    ip = _parse_ip(text)
    if ip is None:
        return "not an IP address"
    networks, _ = parse_allow(allow)
    forms = [ip]
    inner = _embedded_ipv4(ip)
    if inner is not None:
        forms.append(inner)
    for form in forms:
        exact = any(
            n.num_addresses == 1 and form in n for n in networks if n.version == form.version
        )
        if form in _METADATA and not exact:
            return "a cloud metadata address"
    if host_allowed or any(
        form in n for form in forms for n in networks if n.version == form.version
    ):
        return None
    return _classify(ip)


def check_address(ip: str, allow: Sequence[str] = ()) -> None:
    """Raise :class:`BlockedAddress` unless the client may connect to ``ip``.

    ``allow`` holds CIDR ranges (or single addresses) that are let through anyway;
    cloud metadata addresses pass only when listed one by one.
    """
    why = _refusal(ip, tuple(allow))
    if why:
        raise BlockedAddress(f"{ip} is {why}")


def host_refusal(host: str, ip: str, allow: tuple[str, ...]) -> str | None:
    """Why connecting to ``ip`` (which ``host`` resolved to) is refused, or ``None``."""
    _, hosts = parse_allow(allow)
    why = _refusal(ip, allow, host_allowed=host.lower().rstrip(".") in hosts)
    if why is None:
        return None
    if _parse_ip(host) is not None:
        return f"{ip} is {why}"
    return f"{host} resolves to {ip}, {why}"


def is_ip_literal(host: str) -> bool:
    """Whether ``host`` is an IP address rather than a name to resolve."""
    return _parse_ip(host) is not None


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (the default resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


# --- URLs ---------------------------------------------------------------------------------

_C0_AND_SPACE = "".join(chr(i) for i in range(0x21))
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")
_ABSOLUTE = re.compile(r"(?i)(https?)://([^/?#]*)(.*)\Z", re.DOTALL)
_USERINFO = re.compile(r"\A([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#]*@")
_IPV4_PART = re.compile(r"0|[1-9][0-9]{0,2}")


def display_url(url: str) -> str:
    """``url`` fit for a one-line message or a log: no credentials, no control characters."""
    text = _USERINFO.sub(r"\1***@", url.strip())
    text = re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\x{ord(m.group()):02x}", text)
    return text if len(text) <= 200 else text[:199] + "…"


def _ends_in_number(host: str) -> bool:
    """WHATWG's test for a host that browsers read as an IPv4 address (``0x7f.1``)."""
    labels = host.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels.pop()
    last = labels[-1]
    return last.isdigit() or bool(re.fullmatch(r"0x[0-9a-f]*", last))


def _check_host(host: str, bracketed: bool) -> str | None:
    """Why the host httpx will connect to is refused, or ``None``."""
    if bracketed:
        if "%" in host:
            return "IPv6 zone identifiers are not allowed"
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"{host!r} is not a valid IPv6 address"
        return None
    if not host:
        return "the URL has no host"
    if len(host) > 253 or not _HOSTNAME.match(host):
        return f"{host!r} is not a valid host name"
    if _ends_in_number(host):
        parts = host.split(".")
        if len(parts) != 4 or not all(_IPV4_PART.fullmatch(p) and int(p) < 256 for p in parts):
            return f"{host!r} is not a plain dotted IPv4 address"
    for label in host.split("."):
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except idna.IDNAError:
                return f"{host!r} has an invalid international (punycode) label"
    return None


def _encode_spaces(text: str) -> str:
    """``%20`` for spaces after the host, as browsers do (some Location headers have them)."""
    split = re.match(r"(?i)(https?://[^/?#\s]*)(.*)\Z", text, re.DOTALL)
    if split is None:
        return text
    return split.group(1) + split.group(2).replace(" ", "%20")


def _absolute(text: str) -> httpx.URL:
    text = _encode_spaces(text)
    shown = display_url(text)
    if _CONTROL.search(text):
        raise BadURL(f"refused {shown}: URLs may not contain spaces or control characters")
    if "\\" in re.split(r"[?#]", text, maxsplit=1)[0]:
        # WHATWG reads "\" as "/", httpx as part of the host or user name: never guess.
        raise BadURL(f"refused {shown}: backslashes are not allowed in URLs")
    match = _ABSOLUTE.match(text)
    if match is None:
        scheme = _SCHEME.match(text)
        if scheme and scheme.group(1).lower() not in {"http", "https"}:
            raise BadURL(f"refused {shown}: only http and https URLs can be fetched")
        raise BadURL(f"refused {shown}: not an absolute http(s) URL")
    authority = match.group(2)
    if "@" in authority:
        raise BadURL(f"refused {shown}: URLs with credentials (user:password@) are not allowed")
    bracketed = authority.startswith("[")
    if bracketed:
        host, sep, port = authority[1:].partition("]")
        if not sep or (port and not port.startswith(":")):
            raise BadURL(f"refused {shown}: malformed IPv6 host")
        port = port[1:]
    else:
        host, _, port = authority.partition(":")
    if port and (not port.isascii() or not port.isdigit() or int(port) > 65535):
        raise BadURL(f"refused {shown}: {port!r} is not a valid port")
    try:
        url = httpx.URL(text)
        raw_host = url.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError) as exc:
        raise BadURL(f"refused {shown}: {exc}") from None
    if url.scheme not in {"http", "https"} or url.userinfo:
        raise BadURL(f"refused {shown}: not a plain http(s) URL")
    why = _check_host(raw_host, bracketed)
    if why is None and not host.isascii():
        why = _idna_disagreement(host, raw_host)
    if why:
        raise BadURL(f"refused {shown}: {why}")
    return url


def _idna_disagreement(host: str, raw_host: str) -> str | None:
    """Browsers map international names with UTS #46; refuse names where that differs."""
    try:
        mapped = idna.encode(host, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return f"{host!r} is not a valid international host name"
    if mapped.lower() != raw_host:
        return f"{host!r} is an ambiguous international host name"
    return None


def parse_url(url: str, base: str | None = None) -> httpx.URL:
    """The http(s) URL to fetch (``url`` resolved against ``base``), or :class:`BadURL`.

    Stricter than browsers: anything two URL parsers could read as different hosts
    (backslashes, odd IPv4 spellings, percent-encoded or ambiguous hosts) is refused.
    """
    text = url.strip(_C0_AND_SPACE)
    if base is not None and not _SCHEME.match(text):
        text = text.replace(" ", "%20")  # a "//host" part is checked after joining
        head = re.split(r"[?#]", text, maxsplit=1)[0]
        # Browsers read "///host" as a host, RFC 3986 as a path: refuse the ambiguity.
        if _CONTROL.search(text) or "\\" in head or head.startswith("///"):
            raise BadURL(f"refused {display_url(text)}: not a clean relative URL")
        try:
            text = str(_absolute(base.strip(_C0_AND_SPACE)).join(text))
        except httpx.InvalidURL as exc:
            raise BadURL(f"refused {display_url(text)}: {exc}") from None
    return _absolute(text)
