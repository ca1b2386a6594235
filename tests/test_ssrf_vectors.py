"""Every SSRF vector in ../shared/data/security/ssrf is refused, with no network traffic.

Sources (see their SOURCE.md): PayloadsAllTheThings' SSRF, cloud-metadata and DNS
rebinding pages with the candidate lists derived from them, and the WHATWG URL parser
tests. Host names go to :class:`AttackerDNS`, which answers the way the attacker's DNS
would (loopback, private, metadata) and sends every other name to a private address,
so nothing can ever be connected to; a fixture fails any socket connect outright.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from republish.config import Settings
from republish.net import BadURL, BlockedAddress, FetchError, fetch, parse_url
from tests.conftest import SHARED

SSRF = SHARED / "data" / "security" / "ssrf"
PATT = SSRF / "payloadsallthethings"
WHATWG = SSRF / "whatwg-url-tests" / "urltestdata.json"
# Settings of their own: these tests never need the database and allow nothing.
SETTINGS = Settings(fetch_allow=(), fetch_timeout_s=5.0)

_URL = re.compile(r"""[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'`]+""")
_BARE_HOST = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)+\Z", re.IGNORECASE)
_FENCE = re.compile(r"^\s*```[^\n]*\n(.*?)^\s*```", re.MULTILINE | re.DOTALL)
_INLINE = re.compile(r"`([^`\n]+)`")


# --- extracting the vectors ------------------------------------------------------------


def _candidates(line: str) -> list[str]:
    """The URLs one line of a payload list stands for."""
    line = line.strip()
    found: list[str] = []
    left, sep, right = line.partition(" = ")  # "A = B": B is what A decodes to
    if not re.search(r"\s", left):
        found.append(left)
        if "://" not in left and ":" not in left and _BARE_HOST.match(left):
            found.append(f"http://{left}/")  # a bare host name (e.g. a rebinding domain)
    if sep and "://" in right:
        found.append(right.strip())
    found.extend(match.group() for match in _URL.finditer(line))
    return found


def _list_file(name: str, keep: str = "") -> list[str]:
    lines = (PATT / name).read_text(encoding="utf-8").splitlines()
    vectors: list[str] = []
    for line in lines:
        if not line.strip() or line.startswith("#") or (keep and keep not in line):
            continue
        vectors.extend(_candidates(line))
    return vectors


def _markdown_file(name: str) -> list[str]:
    """URLs in the code of a Markdown page: fenced blocks and inline code spans."""
    text = (PATT / name).read_text(encoding="utf-8")
    vectors: list[str] = []
    for block in _FENCE.finditer(text):
        for line in block.group(1).splitlines():
            vectors.extend(match.group() for match in _URL.finditer(line))
    outside = _FENCE.sub("", text)
    for span in _INLINE.finditer(outside):
        # A span is one payload: "http://1.1.1.1 &@2.2.2.2# @3.3.3.3/" is not three URLs.
        if "://" in span.group(1):
            vectors.append(span.group(1).strip())
    return vectors


def _domain_table() -> dict[str, list[str]]:
    """The "Bypass Localhost with a Domain Redirect" table: domain -> where it points."""
    text = (PATT / "SSRF-README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\|\s*([^|\s]+)\s*\|\s*`([^`]+)`\s*\|", text, re.MULTILINE)
    return {domain.lower(): [address] for domain, address in rows}


def _cname_records() -> dict[str, str]:
    """CNAME records from the DNS rebinding page: name -> target."""
    text = (PATT / "DNS-Rebinding-README.md").read_text(encoding="utf-8")
    records = re.findall(r"^(\S+)\.\s+\d+\s+IN\s+CNAME\s+(\S+)\.\s*$", text, re.MULTILINE)
    return {name.lower(): target.lower() for name, target in records}


def _rebinding_vectors() -> list[str]:
    vectors = [f"http://{name}/" for name in _cname_records()]
    text = (PATT / "DNS-Rebinding-README.md").read_text(encoding="utf-8")
    for heading in re.findall(r"^###\s+(\S+)\s*$", text, re.MULTILINE):
        if _BARE_HOST.match(heading):  # "### 0.0.0.0"
            vectors.append(f"http://{heading}/")
    return vectors


def _payload_sets() -> dict[str, list[str]]:
    """Vectors per source file; each URL counted once, in the first file naming it."""
    if not PATT.is_dir():
        return {}
    sets = {
        "ssrf-bypass-candidates.txt": _list_file("ssrf-bypass-candidates.txt"),
        "cloud-metadata-candidates.txt": _list_file("cloud-metadata-candidates.txt", "http"),
        "SSRF-README.md": _markdown_file("SSRF-README.md")
        + [f"http://{domain}/" for domain in _domain_table()],
        "SSRF-Cloud-Instances.md": _markdown_file("SSRF-Cloud-Instances.md"),
        "DNS-Rebinding-README.md": _rebinding_vectors(),
    }
    seen: set[str] = set()
    for name, vectors in sets.items():
        unique = [v for v in dict.fromkeys(vectors) if v not in seen]
        seen.update(unique)
        sets[name] = unique
    return sets


def _payload_params() -> list[Any]:
    params = [
        pytest.param(vector, id=f"{name}:{index:03d}:{vector[:70]}")
        for name, vectors in _payload_sets().items()
        for index, vector in enumerate(vectors)
    ]
    return params or [pytest.param("", id="no-shared-data")]


C0_AND_SPACE = "".join(chr(i) for i in range(0x21))


def _http_case(case: dict[str, Any]) -> bool:
    """A WHATWG case whose input is (or resolves against its base to) an http(s) URL."""
    text = case["input"].strip(C0_AND_SPACE)
    if re.match(r"(?i)https?:", text):
        return True
    base = case.get("base") or ""
    has_scheme = re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", text)
    return bool(re.match(r"(?i)https?:", base)) and not has_scheme


def _whatwg_cases() -> list[dict[str, Any]]:
    if not WHATWG.is_file():
        return []
    data = json.loads(WHATWG.read_text(encoding="utf-8"))
    return [case for case in data if isinstance(case, dict) and _http_case(case)]


def _whatwg_params() -> list[Any]:
    params = [
        pytest.param(
            case,
            id=f"urltestdata.json:{index:03d}:{'fail' if case.get('failure') else 'ok'}:"
            f"{case['input'][:50]!r}",
        )
        for index, case in enumerate(_whatwg_cases())
    ]
    return params or [pytest.param({}, id="no-shared-data")]


# --- the attacker's world ----------------------------------------------------------------


class AttackerDNS:
    """Answers as a hostile DNS would, from the data's own tables; records every query."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        self.table: dict[str, list[str]] = {
            "localhost": ["127.0.0.1", "::1"],
            "ip6-localhost": ["::1"],
            "ip6-loopback": ["::1"],
            "metadata": ["169.254.169.254"],
            "metadata.google.internal": ["169.254.169.254"],
            "instance-data": ["169.254.169.254"],
            "rancher-metadata": ["169.254.169.250"],
            "spoofed.burpcollaborator.net": ["127.0.0.1"],
            **_domain_table(),
        }
        for name, target in _cname_records().items():
            # A CNAME to an internal name: the resolver follows it for the attacker.
            self.table[name] = self.table.get(target, ["10.0.0.1"])

    def __call__(self, host: str, port: int) -> list[str]:
        self.queries.append(host)
        name = host.lower().rstrip(".")
        if name in self.table:
            return self.table[name]
        nip = re.search(r"(\d{1,3}(?:[.-]\d{1,3}){3})\.nip\.io\Z", name)
        if nip:
            return [nip.group(1).replace("-", ".")]
        rebind = re.match(r"make-(.+)-rebind-(.+)-rr\.1u\.ms\Z", name)
        if rebind:
            # Round robin between a public and an internal address: both are in the
            # answer set, and every answer has to pass.
            return [part.replace("-", ".") for part in rebind.groups()]
        return ["10.0.0.1"]  # everything else points inside too: nothing is ever reached


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Fail any attempt to open a connection; the list records attempts."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> Any:
        attempts.append(args)
        raise AssertionError(f"network connection attempted: {args!r}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    yield attempts
    assert attempts == []


# --- the tests ------------------------------------------------------------------------------


@pytest.mark.shared
@pytest.mark.parametrize("vector", _payload_params())
def test_payload_is_refused_without_traffic(
    shared_dir: Path, no_sockets: list[object], vector: str
) -> None:
    dns = AttackerDNS()
    with pytest.raises(FetchError) as caught:
        fetch(vector, SETTINGS, accept=("text/html",), resolver=dns)
    assert isinstance(caught.value, BadURL | BlockedAddress), caught.value
    if isinstance(caught.value, BadURL):
        assert dns.queries == []  # refused before any lookup
    assert "\n" not in str(caught.value)


@pytest.mark.shared
def test_payload_counts(shared_dir: Path) -> None:
    counts = {name: len(vectors) for name, vectors in _payload_sets().items()}
    summary = ", ".join(f"{name}: {n}" for name, n in counts.items())
    # Each file must yield vectors; an empty extraction would make the test above vacuous.
    assert all(n > 0 for n in counts.values()), summary
    assert counts["ssrf-bypass-candidates.txt"] >= 50, summary
    assert counts["cloud-metadata-candidates.txt"] >= 50, summary
    cases = _whatwg_cases()
    assert len(cases) >= 300
    assert sum(bool(case.get("failure")) for case in cases) >= 50


@pytest.mark.shared
@pytest.mark.parametrize("case", _whatwg_params())
def test_whatwg_case_is_refused_or_read_alike(shared_dir: Path, case: dict[str, Any]) -> None:
    try:
        url = parse_url(case["input"], base=case.get("base"))
    except FetchError:
        return  # refusing is always safe
    assert not case.get("failure"), f"accepted a URL browsers reject: {url}"
    assert url.scheme + ":" == case["protocol"]
    expected = case["hostname"]
    host = url.raw_host.decode("ascii")
    if expected.startswith("["):
        assert ipaddress.ip_address(host) == ipaddress.ip_address(expected[1:-1])
    else:
        assert host == expected
    assert ("" if url.port is None else str(url.port)) == case["port"]
