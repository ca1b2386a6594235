"""The pixel's own servers (the compiled front, ``republish pixel``'s default, and the
builtin Python server) answer and record exactly like the ASGI pixel, and speak enough
HTTP/1.1: keep-alive, close, pipelining, bad requests. Every test runs on both."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from republish.hits import DropReason, HitRecord, Verdict
from republish.pixel import server as server_module
from republish.pixel.app import GIF, PixelApp
from republish.pixel.native import NativePixelServer, available
from republish.pixel.server import MAX_HEAD_BYTES, PixelServer
from tests.test_pixel import CASE_IDS, CASES, CHROME, NOW, _get, _records

SERVERS = ["native", "builtin"]


def need(kind: str) -> None:
    """Skip a native test where the extension is not built (a failure in CI)."""
    if kind == "native" and not available():
        if os.environ.get("CI") == "true":
            pytest.fail("the pixel's compiled front (republish.pixel._native) is not built")
        pytest.skip("the pixel's compiled front is not built here (no C compiler?)")


class Running:
    """A pixel server (``kind``: native or builtin) in a thread, on a loopback port."""

    def __init__(
        self, log_dir: Path, client_ip_header: str = "", kind: str = "builtin", idle: float = 5.0
    ) -> None:
        need(kind)
        self.kind = kind
        self.log_dir = log_dir
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.native: NativePixelServer | None = None
        if kind == "native":
            self.native = NativePixelServer(
                log_dir, client_ip_header=client_ip_header, idle_timeout_s=idle
            )
            self.thread = threading.Thread(target=self.native.serve, kwargs={"sock": self.sock})
        else:
            self.server = PixelServer(log_dir, client_ip_header=client_ip_header, clock=lambda: NOW)
            self.thread = threading.Thread(
                target=self.loop.run_until_complete, args=(self.server.serve(sock=self.sock),)
            )
        self.thread.start()

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        if self.native is not None:
            self.native.stop()
        else:
            self.loop.call_soon_threadsafe(self.server.stop)
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()
        self.loop.close()
        self.sock.close()

    def records(self) -> list[HitRecord]:
        return _records(self.log_dir)

    def exchange(self, data: bytes, timeout: float = 3.0) -> bytes:
        """Send ``data`` on one connection; everything received until the server closes it
        (or ``timeout`` passes)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as conn:
            conn.sendall(data)
            received = b""
            try:
                while chunk := conn.recv(65536):
                    received += chunk
            except TimeoutError:
                received += b"<timeout>"
        return received


@pytest.fixture(params=SERVERS)
def running(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Running]:
    served = Running(tmp_path / "hits", kind=request.param)
    yield served
    served.stop()


def _responses(
    raw: bytes, heads: frozenset[int] = frozenset()
) -> list[tuple[bytes, dict[bytes, bytes], bytes]]:
    """Split raw HTTP/1.1 responses: (status line, headers, body); ``heads`` are the
    indexes of answers to HEAD requests, which have no body."""
    found = []
    while raw.startswith(b"HTTP/1.1"):
        head, _, raw = raw.partition(b"\r\n\r\n")
        status, *lines = head.split(b"\r\n")
        headers = {k.lower(): v for k, v in (line.split(b": ", 1) for line in lines)}
        length = 0 if len(found) in heads else int(headers[b"content-length"])
        found.append((status, headers, raw[:length]))
        raw = raw[length:]
    return found


@pytest.mark.parametrize(("path", "headers", "verdict", "reason", "page"), CASES, ids=CASE_IDS)
def test_builtin_server_answers_and_records_like_the_asgi_app(
    running: Running,
    tmp_path: Path,
    path: str,
    headers: dict[str, str],
    verdict: Verdict,
    reason: DropReason,
    page: str,
) -> None:
    response = httpx.get(running.base + path, headers=headers)
    asgi_app = PixelApp(tmp_path / "asgi", clock=lambda: NOW)
    asgi_response = asyncio.run(_get(asgi_app, path, headers))
    assert response.status_code == 200 and response.content == GIF
    for name in ("content-type", "content-length", "cache-control", "x-content-type-options",
                 "cross-origin-resource-policy", "x-republish-dropped"):  # fmt: skip
        assert response.headers.get(name) == asgi_response.headers.get(name), name
    assert response.headers.get("x-republish-dropped", "") == reason.value
    assert "set-cookie" not in response.headers and "date" in response.headers
    running.stop()  # seals the segment: every answered hit is on disk
    [record] = running.records()
    [asgi_record] = _records(asgi_app.log_dir)
    assert (record.verdict, record.reason, record.page_url) == (verdict, reason, page)
    assert record.story_id == asgi_record.story_id
    if running.kind == "builtin":  # the compiled front reads the real clock
        assert record.ts_ms == asgi_record.ts_ms
    else:
        assert abs(record.ts_ms - time.time() * 1000) < 60_000
    assert bool(record.visitor) == (verdict is Verdict.HUMAN)
    stored = b"".join(p.read_bytes() for p in (running.log_dir / "segments").iterdir())
    assert b"127.0.0.1" not in stored and b"Mozilla" not in stored


def test_keep_alive_pipelining_and_head_answer_in_order(running: Running) -> None:
    raw = running.exchange(
        b"GET /p/aaa.gif HTTP/1.1\r\nHost: px\r\nUser-Agent: " + CHROME.encode() + b"\r\n\r\n"
        b"HEAD /p/bbb.gif HTTP/1.1\r\nHost: px\r\nUser-Agent: Googlebot/2.1\r\n\r\n"
        b"GET /p/ccc.gif?x=1 HTTP/1.1\r\nHost: px\r\nUser-Agent: " + CHROME.encode() + b"\r\n"
        b"Sec-Purpose: prefetch\r\nConnection: close\r\n\r\n"
        b"GET /p/ddd.gif HTTP/1.1\r\nHost: px\r\n\r\n",  # after the close: never read
    )
    responses = _responses(raw, heads=frozenset({1}))
    assert [status for status, _, _ in responses] == [b"HTTP/1.1 200 OK"] * 3
    assert [headers.get(b"x-republish-dropped") for _, headers, _ in responses] == [
        None,
        b"bot-user-agent",
        b"prefetch",
    ]
    assert responses[0][2] == GIF and responses[2][2] == GIF
    assert responses[2][1][b"connection"] == b"close"
    running.stop()
    assert [r.story_id for r in running.records()] == ["aaa", "bbb", "ccc"]


def _head(raw: bytes) -> bytes:
    return raw.partition(b"\r\n\r\n")[0]


def test_http_1_0_closes_unless_asked_to_keep_alive(running: Running) -> None:
    plain = running.exchange(b"GET /p/aaa.gif HTTP/1.0\r\n\r\n")
    assert plain.endswith(GIF) and b"<timeout>" not in plain
    kept = running.exchange(
        b"GET /p/aaa.gif HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", timeout=0.5
    )
    assert b"Connection: keep-alive" in _head(kept) and kept.endswith(b"<timeout>")


def test_a_request_body_is_skipped_and_the_next_request_answered(running: Running) -> None:
    raw = running.exchange(
        b"POST /p/aaa.gif HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
        b"GET /p/bbb.gif HTTP/1.1\r\nConnection: close\r\n\r\n"
    )
    assert [status for status, _, _ in _responses(raw)] == [b"HTTP/1.1 200 OK"] * 2
    running.stop()
    assert [r.story_id for r in running.records()] == ["aaa", "bbb"]


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", b"400"),
        (b"GET /p/aaa.gif HTTP/1.1\r\nX-Pad: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n", b"431"),
        (b"GET /p/" + b"a" * MAX_HEAD_BYTES + b".gif HTTP/1.1\r\n\r\n", b"431"),
        (b"GET /p/aaa.gif HTTP/1.1\r\nUser-Agent: x\r\n folded\r\n\r\n", b"400"),
        (b"GET /p/aaa.gif HTTP/1.1\nUser-Agent: x\n\n", b"400"),
        (b"GET /p/aaa.gif HTTP/1.1\r\nUser-Agent: x\ry\r\n\r\n", b"400"),
        (b"GET /p/aaa.gif HTTP/1.1\r\nReferer: a\x01b\r\n\r\n", b"400"),
        (b"GET /p/aaa.gif HTTP/1.1\r\nUser-Agent : x\r\n\r\n", b"400"),
        (b"GET /p/aaa.gif HTTP/1.2\r\n\r\n", b"400"),
    ],
    ids=[
        "not-http",
        "huge-header",
        "huge-url",
        "obs-fold",
        "bare-lf",
        "lone-cr",
        "control",
        "space-before-colon",
        "http-1.2",
    ],  # fmt: skip
)
def test_what_is_not_a_pixel_request_gets_an_error_and_is_not_recorded(
    running: Running, request_bytes: bytes, status: bytes
) -> None:
    raw = running.exchange(request_bytes)
    assert raw.startswith(b"HTTP/1.1 " + status) and b"Connection: close" in raw
    assert b"<timeout>" not in raw  # closed by the server
    running.stop()
    assert running.records() == []


def test_bad_request_after_a_good_one_is_answered_in_order(running: Running) -> None:
    raw = running.exchange(b"GET /p/aaa.gif HTTP/1.1\r\n\r\nGARBAGE\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK") and GIF + b"HTTP/1.1 400" in raw


@pytest.mark.parametrize("kind", SERVERS)
def test_idle_connections_are_closed(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "IDLE_TIMEOUT_S", 0.5)
    running = Running(tmp_path / "hits", kind=kind, idle=0.5)
    try:
        started = time.monotonic()
        raw = running.exchange(b"GET /p/aaa.gif HTTP/1.1\r\nUser-Agent: x", timeout=5)
        assert raw == b""  # half a request, then silence: closed without an answer
        assert time.monotonic() - started < 4
    finally:
        running.stop()


@pytest.mark.parametrize("kind", SERVERS)
def test_client_ip_comes_from_the_configured_header_only(tmp_path: Path, kind: str) -> None:
    def visitor(forwarded: str) -> str:
        # One hit log (so one daily salt), one server after the other.
        served = Running(tmp_path / "hits", client_ip_header="X-Forwarded-For", kind=kind)
        httpx.get(
            served.base + "/p/abc.gif",
            headers={"user-agent": CHROME, "x-forwarded-for": forwarded},
        )
        served.stop()
        return served.records()[-1].visitor

    first = visitor("9.9.9.9, 1.1.1.1")
    again = visitor("8.8.8.8, 1.1.1.1")
    other = visitor("1.1.1.1, 2.2.2.2")
    assert first == again != other


@pytest.mark.parametrize("kind", SERVERS)
def test_stop_answers_what_was_recorded_then_closes(tmp_path: Path, kind: str) -> None:
    served = Running(tmp_path / "hits", kind=kind)
    with httpx.Client(base_url=served.base) as client:
        assert client.get("/p/abc.gif", headers={"user-agent": CHROME}).status_code == 200
        served.stop()  # the idle keep-alive connection is closed, the segment sealed
        with pytest.raises(httpx.TransportError):
            client.get("/p/abc.gif", headers={"user-agent": CHROME})
    assert [p.suffix for p in (served.log_dir / "segments").iterdir()] == [".seg"]
    assert len(served.records()) == 1


def test_a_client_that_does_not_read_is_not_read_either(running: Running) -> None:
    request = b"GET /p/aaa.gif HTTP/1.1\r\nUser-Agent: Googlebot\r\n\r\n" * 100
    sent = 0
    with socket.create_connection(("127.0.0.1", running.port)) as conn:
        conn.settimeout(1.0)
        deadline = time.monotonic() + 3
        try:
            while time.monotonic() < deadline:  # pipelined requests, never reading
                sent += conn.send(request)
        except TimeoutError:
            pass
        # The server stopped reading once its unread answers backed up: sending stalled.
        assert time.monotonic() < deadline
    running.stop()
    assert 0 < len(running.records()) <= sent // (len(request) // 100)


def test_cli_reports_a_busy_port_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "republish", "pixel", "--port", str(port)],
            env=os.environ | {"REPUBLISH_HIT_LOG_DIR": str(tmp_path / "hits")},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "cannot serve the pixel" in result.stderr
    assert "address already in use" in result.stderr


def test_a_request_split_across_reads_is_answered_like_a_whole_one(running: Running) -> None:
    request = (
        b"GET /p/aaa.gif HTTP/1.1\r\nUser-Agent: " + CHROME.encode() + b"\r\n"
        b"Referer: https://a.example/x\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", running.port), timeout=3) as conn:
        conn.sendall(request)
        assert conn.recv(65536).startswith(b"HTTP/1.1 200 OK")
        for cut in (3, 10, 30, len(request) - 3, len(request) - 1):
            conn.sendall(request[:cut])
            time.sleep(0.05)  # the two parts in two reads
            conn.sendall(request[cut:])
            assert conn.recv(65536).startswith(b"HTTP/1.1 200 OK")
    running.stop()
    records = running.records()
    assert len(records) == 6 and len({(r.visitor, r.page_url) for r in records}) == 1
    assert records[0].page_url == "https://a.example/x" and records[0].visitor


def test_header_names_in_any_case_and_the_last_of_a_repeated_header_count(
    running: Running,
) -> None:
    raw = running.exchange(
        b"GET /p/aaa.gif HTTP/1.1\r\nuSeR-aGeNt: Googlebot/2.1\r\nUSER-AGENT: "
        + CHROME.encode()
        + b"\r\nREFERER: https://one.example/\r\nreferer:  https://two.example/\r\n"
        b"CONNECTION: Close\r\n\r\n"
    )
    [(status, headers, body)] = _responses(raw)
    assert status == b"HTTP/1.1 200 OK" and body == GIF
    assert headers[b"connection"] == b"close" and b"x-republish-dropped" not in headers
    running.stop()
    [record] = running.records()
    assert (record.verdict, record.page_url) == (Verdict.HUMAN, "https://two.example/")


def test_a_body_in_a_later_read_is_skipped_and_the_next_request_answered(
    running: Running,
) -> None:
    with socket.create_connection(("127.0.0.1", running.port), timeout=3) as conn:
        conn.sendall(b"POST /p/aaa.gif HTTP/1.1\r\nContent-Length: 5\r\n\r\n")
        time.sleep(0.05)  # the head alone in one read, its body in the next
        conn.sendall(b"helloGET /p/bbb.gif HTTP/1.1\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    assert [status for status, _, _ in _responses(received)] == [b"HTTP/1.1 200 OK"] * 2
    running.stop()
    assert [r.story_id for r in running.records()] == ["aaa", "bbb"]
