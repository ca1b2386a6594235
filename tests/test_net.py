"""The guarded outbound client against real loopback servers (never beyond 127.0.0.0/8)."""

from __future__ import annotations

import gzip
import shutil
import socket
import ssl
import subprocess
import threading
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

import republish.net as net
from republish.config import Settings, SettingsError
from republish.net import (
    BadURL,
    BlockedAddress,
    Client,
    ConnectFailed,
    FetchError,
    FetchResult,
    FetchTimeout,
    HTTPStatusError,
    TooLarge,
    TooManyRedirects,
    UnsupportedContent,
    check_address,
    fetch,
)
from tests.servers import LoopbackServer, Response

HTML = "text/html; charset=utf-8"
# For answers the client stops reading early: the server then hangs up instead of
# waiting for a next request on a connection the client resets.
CLOSE = {"Connection": "close"}
PAGE = "<html><head><title>Harbour ferry</title></head><body><p>Café reopens</p></body></html>"


def redirect(location: str, status: int = 302) -> Response:
    return Response(status, b"", {"Location": location, "Content-Type": "text/plain"})


class StubResolver:
    """Answers from a table (a list per host: one answer per lookup) and records lookups."""

    def __init__(self, table: dict[str, list[list[str]]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        answers = self.table[host]
        return answers[min(len(self.lookups) - 1, len(answers) - 1)]


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Refuse (and record) every TCP connection that would leave 127.0.0.0/8."""
    attempts: list[tuple[str, int]] = []
    real = socket.create_connection

    def guard(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        if address[0].startswith("127."):
            return real(address, *args, **kwargs)  # type: ignore[arg-type]
        attempts.append((address[0], address[1]))
        raise ConnectionRefusedError("test: no connections beyond loopback")

    monkeypatch.setattr(socket, "create_connection", guard)
    return attempts


# --- the happy path -----------------------------------------------------------------


def test_fetches_a_page(http_server: LoopbackServer, settings: Settings) -> None:
    url = http_server.route("/story", Response(200, PAGE.encode(), {"Content-Type": HTML}))

    result = fetch(url, settings, accept=("text/html",))

    assert result.status == 200
    assert result.url == url
    assert result.content_type == "text/html"
    assert result.charset == "utf-8"
    assert "Café reopens" in result.text()
    method, path, headers = http_server.requests[0]
    assert (method, path) == ("GET", "/story")
    assert headers["User-Agent"] == settings.user_agent


def test_client_is_reusable(http_server: LoopbackServer, settings: Settings) -> None:
    first = http_server.route("/one", Response(200, b"<p>one</p>"))
    second = http_server.route("/two", Response(200, b"<p>two</p>"))
    with Client(settings) as client:
        assert client.fetch(first).content == b"<p>one</p>"
        assert client.fetch(second).content == b"<p>two</p>"


def test_loopback_is_refused_without_the_allow_list(
    http_server: LoopbackServer, settings: Settings
) -> None:
    url = http_server.route("/story", Response(200, PAGE.encode()))

    with pytest.raises(BlockedAddress, match="127.0.0.1 is a loopback address"):
        fetch(url, settings.replace(fetch_allow=()))
    assert http_server.requests == []


def test_allowed_host_name_may_resolve_to_loopback(
    http_server: LoopbackServer, settings: Settings
) -> None:
    http_server.route("/story", Response(200, b"<p>demo</p>"))
    resolver = StubResolver({"newsroom.test": [["127.0.0.1"]]})
    url = f"http://newsroom.test:{http_server.port}/story"
    with pytest.raises(BlockedAddress):
        fetch(url, settings.replace(fetch_allow=()), resolver=resolver)

    result = fetch(url, settings.replace(fetch_allow=("newsroom.test",)), resolver=resolver)
    assert result.content == b"<p>demo</p>"


def test_bad_allow_list_entry_is_a_settings_error(settings: Settings) -> None:
    with pytest.raises(SettingsError, match="REPUBLISH_FETCH_ALLOW"):
        Client(settings.replace(fetch_allow=("10.0.0.0/8", "not a host!")))


# --- redirects ------------------------------------------------------------------------


def test_follows_a_redirect_chain(http_server: LoopbackServer, settings: Settings) -> None:
    final = http_server.route("/final", Response(200, b"<p>here</p>"))
    http_server.route("/middle", redirect(final, 301))
    start = http_server.route("/start", redirect("/middle"))  # relative Location

    result = fetch(start, settings)

    assert result.url == final
    assert [path for _, path, _ in http_server.requests] == ["/start", "/middle", "/final"]


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/admin",
        "http://[::ffff:169.254.169.254]/",
        "http://internal.test/",  # the stub resolver sends this name to 10.0.0.1
    ],
)
def test_redirect_to_a_blocked_address_is_refused(
    http_server: LoopbackServer,
    settings: Settings,
    connects: list[tuple[str, int]],
    location: str,
) -> None:
    start = http_server.route("/go", redirect(location))
    resolver = StubResolver({"internal.test": [["10.0.0.1"]]})

    with pytest.raises(BlockedAddress, match=r"redirected from .*/go") as caught:
        fetch(start, settings, resolver=resolver)
    assert str(caught.value).startswith("refused ")
    assert connects == []
    assert len(http_server.requests) == 1


def test_redirect_to_another_scheme_is_refused(
    http_server: LoopbackServer, settings: Settings
) -> None:
    start = http_server.route("/go", redirect("file:///etc/passwd"))
    with pytest.raises(BadURL, match="only http and https"):
        fetch(start, settings)


def test_redirect_loop(http_server: LoopbackServer, settings: Settings) -> None:
    http_server.route("/a", redirect("/b"))
    start = http_server.route("/b", redirect("/a"))
    with pytest.raises(TooManyRedirects, match="redirect loop"):
        fetch(start, settings)
    assert len(http_server.requests) == 2


def test_too_many_redirects(http_server: LoopbackServer, settings: Settings) -> None:
    for hop in range(10):
        http_server.route(f"/hop/{hop}", redirect(f"/hop/{hop + 1}"))
    limited = settings.replace(fetch_max_redirects=3)
    with pytest.raises(TooManyRedirects, match="more than 3"):
        fetch(http_server.url("/hop/0"), limited)
    assert len(http_server.requests) == 4


def test_caller_headers_do_not_follow_a_redirect_to_another_origin(
    http_server: LoopbackServer, settings: Settings
) -> None:
    other = LoopbackServer()
    other.start()
    try:
        target = other.route("/landing", Response(200, b"<p>elsewhere</p>"))
        start = http_server.route("/out", redirect(target))
        fetch(start, settings, headers={"X-Newsroom-Token": "s3cret"})
    finally:
        other.stop()
    assert http_server.requests[0][2]["X-Newsroom-Token"] == "s3cret"
    assert "X-Newsroom-Token" not in other.requests[0][2]


# --- statuses and content --------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410, 500, 503])
def test_error_status_raises(http_server: LoopbackServer, settings: Settings, status: int) -> None:
    url = http_server.route(
        "/gone", Response(status, b"<p>no</p>", {"Content-Type": "text/html", **CLOSE})
    )
    with pytest.raises(HTTPStatusError) as caught:
        fetch(url, settings)
    assert caught.value.status == status
    assert url in str(caught.value)


def test_conditional_get_returns_304(http_server: LoopbackServer, settings: Settings) -> None:
    def handler(request: BaseHTTPRequestHandler) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(304, b"", {"ETag": '"v1"'})
        return Response(200, b"<p>v1</p>", {"ETag": '"v1"', "Content-Type": "text/html"})

    url = http_server.route("/feed", handler)
    first = fetch(url, settings)
    again = fetch(url, settings, headers={"If-None-Match": first.headers["ETag"]})

    assert (first.status, again.status) == (200, 304)
    assert again.content == b""


def test_wrong_content_type(http_server: LoopbackServer, settings: Settings) -> None:
    url = http_server.route(
        "/doc.pdf", Response(200, b"%PDF-1.7", {"Content-Type": "application/pdf", **CLOSE})
    )
    with pytest.raises(UnsupportedContent, match="expected an HTML page, got application/pdf"):
        fetch(url, settings, accept=("text/html", "application/xhtml+xml"))


def test_cookies_are_not_kept(http_server: LoopbackServer, settings: Settings) -> None:
    set_url = http_server.route("/set", Response(200, b"ok", {"Set-Cookie": "session=abc; Path=/"}))
    check_url = http_server.route("/check", Response(200, b"ok"))
    with Client(settings) as client:
        client.fetch(set_url)
        client.fetch(check_url)
    assert "Cookie" not in http_server.requests[1][2]


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b'<meta charset="windows-1252"><p>caf\xe9</p>', "text/html", "café"),
        ("<p>café</p>".encode("utf-16"), "text/html", "café"),  # BOM wins
        ("<p>café</p>".encode(), "text/html; charset=nonsense-8", "café"),
        (b"<p>caf\xe9</p>", "text/html", "café"),  # not UTF-8: windows-1252 fallback
        (b"<p>\xff\xfe\xfd</p>", "text/html; charset=utf-8", "\ufffd"),
    ],
)
def test_text_decoding_never_raises(
    http_server: LoopbackServer, settings: Settings, body: bytes, content_type: str, expected: str
) -> None:
    url = http_server.route("/t", Response(200, body, {"Content-Type": content_type}))
    assert expected in fetch(url, settings).text()


# --- size limits ------------------------------------------------------------------------


def test_declared_length_over_the_limit(http_server: LoopbackServer, settings: Settings) -> None:
    url = http_server.route(
        "/big", Response(200, b"x" * 5000, {"Content-Type": "text/html", **CLOSE})
    )
    with pytest.raises(TooLarge, match="larger than the 1000 bytes limit"):
        fetch(url, settings.replace(fetch_max_bytes=1000))


def _endless(stopped: threading.Event, chunk: bytes, chunked: bool) -> Iterator[bytes]:
    try:
        while True:
            yield b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
    finally:
        stopped.set()


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "until-close"])
def test_endless_body_is_cut_off(
    http_server: LoopbackServer, settings: Settings, chunked: bool
) -> None:
    stopped = threading.Event()
    headers = {"Content-Type": "text/html"}
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
    url = http_server.route(
        # A fresh generator per request: it is closed (and sets ``stopped``) once the
        # server gives up writing it.
        "/endless",
        lambda request: Response(200, _endless(stopped, b"a" * 4096, chunked), headers),
    )

    with pytest.raises(TooLarge):
        fetch(url, settings.replace(fetch_max_bytes=100_000))
    # The client hung up, so the server's endless writer fails and stops.
    assert stopped.wait(30)


def test_gzip_bomb(http_server: LoopbackServer, settings: Settings) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))
    assert len(bomb) < 100_000
    url = http_server.route(
        "/bomb",
        Response(200, bomb, {"Content-Type": "text/html", "Content-Encoding": "gzip", **CLOSE}),
    )
    with pytest.raises(TooLarge):
        fetch(url, settings.replace(fetch_max_bytes=1024 * 1024))


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_page_is_decoded(
    http_server: LoopbackServer, settings: Settings, encoding: str
) -> None:
    packed = gzip.compress(PAGE.encode()) if encoding == "gzip" else zlib.compress(PAGE.encode())
    url = http_server.route(
        "/z", Response(200, packed, {"Content-Type": HTML, "Content-Encoding": encoding})
    )
    assert fetch(url, settings).text() == PAGE
    assert "gzip" in http_server.requests[0][2]["Accept-Encoding"]


def test_unrequested_encoding_is_refused(http_server: LoopbackServer, settings: Settings) -> None:
    url = http_server.route(
        "/br",
        Response(
            200,
            b"\x0b\x02\x80hi\x03",
            {"Content-Type": "text/html", "Content-Encoding": "br", **CLOSE},
        ),
    )
    with pytest.raises(UnsupportedContent, match="br"):
        fetch(url, settings)


# --- time limits ------------------------------------------------------------------------


def _run_bounded(call: Callable[[], object]) -> BaseException | None:
    """Run ``call`` in a thread; fail the test if it is still running after 30 s."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            call()
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "the fetch ignored its deadline"
    return outcome[0]


def test_trickling_body_hits_the_deadline(http_server: LoopbackServer, settings: Settings) -> None:
    stop = threading.Event()

    def trickle() -> Iterator[bytes]:
        while not stop.is_set():
            yield b"<"  # one byte at a time keeps every single read under its timeout
            stop.wait(0.05)

    url = http_server.route(
        "/slow", Response(200, trickle(), {"Content-Type": "text/html", "Content-Length": "100000"})
    )
    try:
        error = _run_bounded(lambda: fetch(url, settings.replace(fetch_timeout_s=1.0)))
    finally:
        stop.set()
    assert isinstance(error, FetchTimeout)
    assert "took longer than 1 s" in str(error)


def test_silent_server_hits_the_deadline(http_server: LoopbackServer, settings: Settings) -> None:
    stop = threading.Event()

    def silent(request: BaseHTTPRequestHandler) -> Response:
        stop.wait(30)
        return Response(200, b"late")

    url = http_server.route("/silent", silent)
    try:
        error = _run_bounded(lambda: fetch(url, settings.replace(fetch_timeout_s=1.0)))
    finally:
        stop.set()
    assert isinstance(error, FetchTimeout)


def test_slow_dns_hits_the_deadline(settings: Settings, connects: list[tuple[str, int]]) -> None:
    stop = threading.Event()

    def slow_resolver(host: str, port: int) -> list[str]:
        stop.wait(30)
        return ["10.0.0.1"]

    try:
        error = _run_bounded(
            lambda: fetch(
                "http://slow-dns.test/",
                settings.replace(fetch_timeout_s=1.0),
                resolver=slow_resolver,
            )
        )
    finally:
        stop.set()
    assert isinstance(error, FetchTimeout)
    assert connects == []


# --- DNS: resolve once, check every answer, connect to what was checked ----------------


def test_rebinding_cannot_swap_the_checked_address(
    settings: Settings, connects: list[tuple[str, int]]
) -> None:
    # First answer public, every later one loopback (which the settings allow, so a
    # second lookup would reach a loopback port). Only the first may be used.
    resolver = StubResolver({"rebind.test": [["1.2.3.4"], ["127.0.0.1"]]})
    with pytest.raises(ConnectFailed):
        fetch("http://rebind.test:8080/", settings, resolver=resolver)
    assert resolver.lookups == ["rebind.test"]
    assert connects == [("1.2.3.4", 8080)]


def test_connects_to_the_resolved_address_with_the_host_name_kept(
    http_server: LoopbackServer, settings: Settings
) -> None:
    # Only 127.0.0.1 is allowed; a second lookup would give 127.0.0.2 (no server there).
    http_server.route("/pinned", Response(200, b"<p>pinned</p>"))
    resolver = StubResolver({"pinned.test": [["127.0.0.1"], ["127.0.0.2"]]})
    url = f"http://pinned.test:{http_server.port}/pinned"

    result = fetch(url, settings.replace(fetch_allow=("127.0.0.1",)), resolver=resolver)

    assert result.content == b"<p>pinned</p>"
    assert resolver.lookups == ["pinned.test"]
    assert http_server.requests[0][2]["Host"] == f"pinned.test:{http_server.port}"


@pytest.mark.parametrize(
    "answers",
    [["1.2.3.4", "10.0.0.1"], ["10.0.0.1", "1.2.3.4"], ["2606:4700::1", "fd00::1"]],
    ids=["public-then-private", "private-then-public", "ipv6-unique-local"],
)
def test_any_private_answer_refuses_the_host(
    settings: Settings, connects: list[tuple[str, int]], answers: list[str]
) -> None:
    resolver = StubResolver({"mixed.test": [answers]})
    with pytest.raises(BlockedAddress, match="mixed.test resolves to"):
        fetch("http://mixed.test/", settings, resolver=resolver)
    assert connects == []


def test_resolver_failure_is_a_connect_error(settings: Settings) -> None:
    def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(ConnectFailed, match="could not resolve nowhere.test"):
        fetch("http://nowhere.test/", settings, resolver=failing)


# --- URLs and literal addresses ------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1]/",
        "http://[::]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[0:0:0:0:0:ffff:7f00:1]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[fe80::1]/",
        "http://[fd00:ec2::254]/",
        "http://[fc00::1]/",
        "http://[ff02::1]/",
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 form of the metadata address
        "http://[2002:7f00:1::]/",  # 6to4 form of 127.0.0.1
        "http://[::127.0.0.1]/",  # IPv4-compatible form
    ],
)
def test_ipv6_literals_are_refused(
    settings: Settings, connects: list[tuple[str, int]], url: str
) -> None:
    with pytest.raises(BlockedAddress):
        fetch(url, settings.replace(fetch_allow=()))
    assert connects == []


@pytest.mark.parametrize(
    "url",
    [
        "http://user:hunter2@127.0.0.1/",
        "http://user@127.0.0.1/",
        "http://:hunter2@127.0.0.1/",
        "https://hunter2@news.example/",
    ],
)
def test_credentials_in_url_are_refused(settings: Settings, url: str) -> None:
    with pytest.raises(BadURL, match="credentials") as caught:
        fetch(url, settings)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/_stats",
        "ftp://127.0.0.1/",
        "javascript:alert(1)",
        "data:text/html,<p>x</p>",
        "dict://127.0.0.1:11211/stats",
        "//127.0.0.1/",
        "127.0.0.1/admin",
        "",
        "http://",
        "http:127.0.0.1/",
        "http://exa mple.test/",
        "http://127.0.0.1:99999/",
        "http://news.example\\@127.0.0.1/",
    ],
)
def test_unfetchable_urls_are_refused(
    settings: Settings, connects: list[tuple[str, int]], url: str
) -> None:
    with pytest.raises(BadURL):
        fetch(url, settings)
    assert connects == []


# --- check_address on its own ----------------------------------------------------------------


@pytest.mark.parametrize(
    "ip",
    [
        "0.0.0.0",
        "10.1.2.3",
        "100.64.0.1",
        "100.100.100.200",
        "127.0.0.1",
        "169.254.169.254",
        "172.16.5.4",
        "192.0.0.192",
        "192.168.1.1",
        "198.18.0.1",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "168.63.129.16",
        "::",
        "::1",
        "fe80::1%eth0",
        "fd00:ec2::254",
        "2001:db8::1",
        "not-an-ip",
    ],
)
def test_check_address_refuses(ip: str) -> None:
    with pytest.raises(BlockedAddress, match="is "):
        check_address(ip)


@pytest.mark.parametrize("ip", ["1.2.3.4", "93.184.215.14", "2606:4700::1111", "::ffff:1.2.3.4"])
def test_check_address_accepts_global_addresses(ip: str) -> None:
    check_address(ip)


def test_allow_list_opens_ranges_but_not_metadata() -> None:
    check_address("127.0.0.1", ["127.0.0.0/8"])
    check_address("::ffff:127.0.0.1", ["127.0.0.0/8"])
    check_address("10.2.3.4", ["10.0.0.0/8"])
    with pytest.raises(BlockedAddress, match="metadata"):
        check_address("169.254.169.254", ["169.254.0.0/16"])
    check_address("169.254.169.254", ["169.254.169.254"])  # only when named one by one
    with pytest.raises(BlockedAddress, match="private"):
        check_address("10.2.3.4", ["127.0.0.0/8"])


def test_errors_are_one_line_fetch_errors() -> None:
    for error in (BadURL, BlockedAddress, TooLarge, TooManyRedirects, FetchTimeout):
        assert issubclass(error, FetchError)
    assert issubclass(HTTPStatusError, FetchError)
    assert issubclass(UnsupportedContent, FetchError)
    assert issubclass(ConnectFailed, FetchError)
    with pytest.raises(BadURL) as caught:
        net.parse_url("http://a\nb.test/")
    assert "\n" not in str(caught.value)


def test_public_api() -> None:
    for name in net.__all__:
        assert hasattr(net, name), name
    assert FetchResult.__dataclass_params__.frozen  # type: ignore[attr-defined]


# --- TLS: the connection goes to the checked IP, the certificate is checked for the name --


@pytest.fixture
def tls_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """A loopback HTTPS server with a self-signed certificate for ``secure.test``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=secure.test", "-addext", "subjectAltName=DNS:secure.test"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    server_names: list[str | None] = []

    def record_sni(sock: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
        server_names.append(name)

    server_context.sni_callback = record_sni  # type: ignore[assignment]
    server = LoopbackServer()
    server._server.socket = server_context.wrap_socket(server._server.socket, server_side=True)
    server.server_names = server_names  # type: ignore[attr-defined]
    # Trust only our certificate (the client otherwise trusts the public CAs).
    monkeypatch.setattr(
        httpx, "create_ssl_context", lambda **kwargs: ssl.create_default_context(cafile=cert)
    )
    server.start()
    yield server
    server.stop()


def test_tls_uses_the_host_name_for_sni_and_verification(
    tls_server: LoopbackServer, settings: Settings
) -> None:
    tls_server.route("/s", Response(200, b"<p>secure</p>"))
    resolver = StubResolver({"secure.test": [["127.0.0.1"]]})

    result = fetch(f"https://secure.test:{tls_server.port}/s", settings, resolver=resolver)

    assert result.content == b"<p>secure</p>"
    assert tls_server.server_names == ["secure.test"]  # type: ignore[attr-defined]
    # The same server by IP: the certificate does not name 127.0.0.1, so it is refused.
    with pytest.raises(ConnectFailed, match="(?i)certificate"):
        fetch(f"https://127.0.0.1:{tls_server.port}/s", settings)


def test_spaces_after_the_host_are_encoded(http_server: LoopbackServer, settings: Settings) -> None:
    http_server.route("/a%20story", Response(200, b"<p>spaced</p>"))
    start = http_server.route("/old", redirect("/a story"))  # seen in real Location headers
    assert fetch(start, settings).content == b"<p>spaced</p>"
    with pytest.raises(BadURL):
        fetch(f"http://exa mple.test:{http_server.port}/", settings)
