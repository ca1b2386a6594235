"""The pixel's compiled front (``republish/pixel/_native.c``) against its Python twin.

Its log lines must be byte-for-byte those of :class:`HitCore` for the same request; its
BLAKE2b and CRC-32 those of hashlib and zlib; and no input may crash it or damage the log.
The HTTP behaviour it shares with the builtin server is tested for both in
test_pixel_server.py.
"""

from __future__ import annotations

import hashlib
import os
import random
import socket
import time
import zlib
from pathlib import Path

import pytest

from republish.hits import decode
from republish.pixel import native
from republish.pixel.core import HitCore
from republish.pixel.log import HitLog, data_end
from republish.pixel.server import _path
from tests.test_pixel import CHROME
from tests.test_pixel_server import Running, _responses, need

pytestmark = pytest.mark.usefixtures("built")


@pytest.fixture
def built() -> None:
    need("native")


def test_the_extension_is_built_in_ci() -> None:
    # need() fails rather than skips when CI=true; here the import itself is checked too.
    if os.environ.get("CI") == "true":
        from republish.pixel import _native  # noqa: F401

    assert native.available()


def test_blake2b_and_crc32_are_those_of_hashlib_and_zlib() -> None:
    from republish.pixel import _native

    rng = random.Random(7)
    for length in [*range(0, 300), 1000, 4096, 100_000]:
        key = rng.randbytes(rng.choice([0, 1, 16, 32, 64]))
        message = rng.randbytes(length)
        expected = hashlib.blake2b(message, key=key, digest_size=16).hexdigest()
        assert _native.visitor_hash(key, message) == expected, (len(key), length)
        assert _native.crc32(message) == zlib.crc32(message)
    with pytest.raises(ValueError):
        _native.visitor_hash(b"k" * 65, b"")


UAS: list[bytes | None] = [
    CHROME.encode(),
    b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    b"curl/8.5.0",
    b"",
    None,
    b"Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0 \xe9\xff",
    b"Mozilla/5.0 " + b"x" * 3000,  # over the cache's limit: worked out every time
    b"   ",
]
REFERERS: list[bytes | None] = [
    None,
    b"",
    b"https://www.citypaper.example/news/2026/ferry/?utm=1#top",
    b"https://wp.example/wp-admin/post.php?post=12&action=edit",
    b"https://site.example/story?preview=true",
    b"https://caf\xe9.example/\xe9t\xe9",
    b"https://tab.example/a\tb/",
    b"https://origin-only.example",
    b"not a url at all",
    b"https://long.example/" + b"p" * 2100,
]
TARGETS = [
    b"/p/abc123.gif",
    b"/p/abc123.gif?x=1&y=2",
    b"/p/%61bc.gif",
    b"/p/ABC.gif",
    b"/p/.gif",
    b"/p/" + b"a" * 32 + b".gif",
    b"/p/" + b"a" * 33 + b".gif",
    b"/p/abc.gif%0A",
    b"/p/abc.gif%0a?x",
    b"http://pixel.example/p/k3x9.gif?q",
    b"https://pixel.example:8443/p/k3x9.gif",
    b"/p/abc.gif/extra",
    b"/",
    b"/p/a%2Fb.gif",
    b"//p/abc.gif",
    b"/p/ab%zz.gif",
]
PREFETCH: list[list[tuple[bytes, bytes]]] = [
    [],
    [(b"Sec-Purpose", b"prefetch;anonymous-client-ip")],
    [(b"Sec-Purpose", b"PRERENDER")],
    [(b"Purpose", b" Prefetch ")],
    [(b"X-Moz", b"prefetch")],
    [(b"Sec-Purpose", b"something-else")],
    [(b"Purpose", b"prefetchx")],
]
FORWARDED = [None, b"203.0.113.9", b"198.51.100.1, 203.0.113.9", b"  ", b"10.0.0.1,\xa0\xe9x "]


def _requests(count: int, seed: int) -> list[tuple[bytes, bytes, dict[bytes, bytes]]]:
    """(raw request, target, headers as the Python server's parser hands them over)."""
    rng = random.Random(seed)
    found = []
    for _ in range(count):
        target = rng.choice(TARGETS)
        fields: list[tuple[bytes, bytes]] = []
        ua = rng.choice(UAS)
        if ua is not None:
            fields.append((rng.choice([b"User-Agent", b"user-agent", b"USER-AGENT"]), ua))
        referer = rng.choice(REFERERS)
        if referer is not None:
            fields.append((b"Referer", referer))
        fields += rng.choice(PREFETCH)
        forwarded = rng.choice(FORWARDED)
        if forwarded is not None:
            fields.append((b"X-Forwarded-For", forwarded))
        if rng.random() < 0.2:
            fields.append((b"X-Other", b"value"))
        method = rng.choice([b"GET", b"GET", b"HEAD"])
        raw = b"%b %b HTTP/1.1\r\nHost: pixel.example\r\n" % (method, target)
        raw += b"".join(b"%b: %b\r\n" % pair for pair in fields) + b"\r\n"
        headers = {name.lower(): value.strip(b" \t") for name, value in fields}
        found.append((raw, target, headers))
    return found


@pytest.mark.parametrize("ip_header", ["", "X-Forwarded-For"])
def test_log_lines_are_those_of_the_python_core(tmp_path: Path, ip_header: str) -> None:
    requests = _requests(600, seed=len(ip_header))
    served = Running(tmp_path / "hits", client_ip_header=ip_header, kind="native")
    try:
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as conn:
            for start in range(0, len(requests), 50):  # pipelined, 50 at a time
                batch = requests[start : start + 50]
                conn.sendall(b"".join(raw for raw, _, _ in batch))
                received = b""
                heads = frozenset(i for i, (raw, _, _) in enumerate(batch) if raw[:4] == b"HEAD")
                while len(_responses(received, heads)) < len(batch):
                    chunk = conn.recv(1 << 20)
                    assert chunk, "the server closed the connection"
                    received += chunk
        # The front wrote its lines into space zeroed ahead; sealing cuts the zeros off.
        [open_segment] = (served.log_dir / "segments").glob("*.open")
        assert open_segment.stat().st_size > data_end(open_segment) > 0
    finally:
        served.stop()
    lines = b"".join(p.read_bytes() for p in sorted((served.log_dir / "segments").iterdir()))
    assert b"\0" not in lines
    lines_list = lines.splitlines(keepends=True)
    assert len(lines_list) == len(requests)
    for line, (raw, target, headers) in zip(lines_list, requests, strict=True):
        record = decode(line)
        assert record is not None, line
        now = (record.ts_ms + 0.5) / 1000  # the core's clock, read as the front read it
        core = HitCore(served.log_dir, client_ip_header=ip_header, clock=lambda: now)  # noqa: B023
        expected, _ = core.hit(_path(target), headers, "127.0.0.1")
        assert line == expected, raw


def _mutations(seed: int, count: int) -> list[bytes]:
    base = (
        b"GET /p/abc.gif?x=1 HTTP/1.1\r\nHost: pixel.example\r\nUser-Agent: "
        + CHROME.encode()
        + b"\r\nReferer: https://a.example/b\r\nContent-Length: 0\r\n\r\n"
    )
    rng = random.Random(seed)
    noise = [b"\r", b"\n", b"\x00", b"\xff", b" ", b":", b"%", b"\r\n", b"\t", b"\r\n\r\n"]
    found = []
    for _ in range(count):
        data = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            action = rng.random()
            at = rng.randrange(len(data) + 1)
            if action < 0.3 and data:
                data[min(at, len(data) - 1)] = rng.randrange(256)
            elif action < 0.6:
                data[at:at] = rng.choice(noise)
            elif action < 0.8:
                del data[at : at + rng.randint(1, 20)]
            else:
                data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
        found.append(bytes(data))
    found += [
        b"",
        b"\r\n" * 10_000,
        b"GET " + b"/" * 40_000 + b" HTTP/1.1\r\n\r\n",
        b"GET /p/a.gif HTTP/1.1\r\n" + b"X: y\r\n" * 5000 + b"\r\n",
        b"GET /p/a.gif HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"GET /p/a.gif HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"GET /p/a.gif HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nxx",
        b"POST /p/a.gif HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"BREW /p/a.gif HTTP/1.1\r\n\r\n",
        b"GET /p/a.gif HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),  # a TLS hello
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ]
    return found


def test_no_input_crashes_it_or_damages_the_log(tmp_path: Path) -> None:
    served = Running(tmp_path / "hits", kind="native")
    statuses: dict[bytes, int] = {}
    try:
        for data in _mutations(seed=3, count=1500):
            with socket.create_connection(("127.0.0.1", served.port), timeout=5) as conn:
                received = b""
                try:  # send, say it is all (answers to what parsed still come), read
                    conn.sendall(data)
                    conn.shutdown(socket.SHUT_WR)
                except OSError:  # refused and closed before all of it was sent
                    pass
                try:
                    while chunk := conn.recv(65536):
                        received += chunk
                except ConnectionResetError:
                    received += b"<reset>"
            status = received[:12]
            statuses[status] = statuses.get(status, 0) + 1
        # Still serving, and answering properly.
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as conn:
            conn.sendall(b"GET /p/last.gif HTTP/1.1\r\nConnection: close\r\n\r\n")
            received = b""
            while chunk := conn.recv(65536):
                received += chunk
        assert received.startswith(b"HTTP/1.1 200 OK")
        assert served.native is not None
        recorded, refused = served.native.counts()
    finally:
        served.stop()
    lines = b"".join(p.read_bytes() for p in (served.log_dir / "segments").iterdir())
    records = [decode(line) for line in lines.splitlines()]
    assert None not in records  # no damaged line
    assert len(records) == recorded > 0 and refused > 0
    assert records[-1] is not None and records[-1].story_id == "last"
    # Both kinds of answer happened: 400s for what is not HTTP, GIFs for what still is.
    assert statuses.get(b"HTTP/1.1 400", 0) > 0 and statuses.get(b"HTTP/1.1 200", 0) > 0


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /p/aaa.gif HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"GET /p/aaa.gif HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nabc",
        b"GET /p/aaa.gif HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
        b"BREW /p/aaa.gif HTTP/1.1\r\n\r\n",
        b"get /p/aaa.gif HTTP/1.1\r\n\r\n",
    ],
    ids=["chunked", "two-lengths", "bad-length", "unknown-method", "lower-case-method"],
)
def test_what_it_refuses_beyond_the_python_server(tmp_path: Path, request_bytes: bytes) -> None:
    served = Running(tmp_path / "hits", kind="native")
    try:
        raw = served.exchange(request_bytes)
        assert raw.startswith(b"HTTP/1.1 400") and b"Connection: close" in raw
    finally:
        served.stop()
    assert served.records() == []


def test_many_idle_connections_are_closed_while_others_are_served(tmp_path: Path) -> None:
    served = Running(tmp_path / "hits", kind="native", idle=0.5)
    idle = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(300)]
    try:
        for conn in idle[:100]:
            conn.sendall(b"GET /p/a.gif HTTP/1.1\r\n")  # half a request
        raw = served.exchange(b"GET /p/b.gif HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert raw.startswith(b"HTTP/1.1 200 OK")
        deadline = time.monotonic() + 10
        closed = 0
        for conn in idle:
            conn.settimeout(max(0.1, deadline - time.monotonic()))
            if conn.recv(1) == b"":
                closed += 1
        assert closed == len(idle)
    finally:
        for conn in idle:
            conn.close()
        served.stop()
    assert [r.story_id for r in served.records()] == ["b"]


def test_segments_rotate_and_no_line_is_lost(tmp_path: Path) -> None:
    served = Running(tmp_path / "hits", kind="native")
    assert served.native is not None
    served.native.log.max_segment_bytes = 1000  # asked about at least once a second
    sent = 0
    try:
        deadline = time.monotonic() + 2.5
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as conn:
            while time.monotonic() < deadline:
                conn.sendall(b"GET /p/n%d.gif HTTP/1.1\r\nUser-Agent: x\r\n\r\n" % sent)
                assert conn.recv(65536).startswith(b"HTTP/1.1 200 OK")
                sent += 1
                time.sleep(0.01)
    finally:
        served.stop()
    segments = sorted((served.log_dir / "segments").iterdir())
    assert len(segments) >= 2 and all(p.suffix == ".seg" for p in segments)
    assert [r.story_id for r in served.records()] == [f"n{i}" for i in range(sent)]
    assert served.native.log.written == sent
    # One request at a time: each was a batch of its own, timed once.
    times = served.native.durable_times()
    assert len(times) == 24 and sum(times) == sent
    assert f"{sent:,} batches made durable" in served.native.summary()


def test_summary_reads_the_durable_times(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    front = native.NativePixelServer(tmp_path)
    assert front.summary() == "0 hits recorded, 0 requests refused."
    times = [0] * 24
    times[7], times[9], times[14] = 90, 9, 1  # 128-256 µs, 512-1024 µs, 16-32 ms
    monkeypatch.setattr(front, "durable_times", lambda: times)
    assert front.summary() == (
        "0 hits recorded, 0 requests refused; 100 batches made durable, half within 256 µs, "
        "99% within 1.024 ms, the longest within 32.768 ms."
    )


def test_a_failed_write_is_reported_and_still_answered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = HitLog.advance
    broken = os.open(os.devnull, os.O_RDONLY)  # appending to it fails with EBADF

    def advance(log: HitLog, written_bytes: int, written_lines: int) -> tuple[int, bool, int]:
        real(log, written_bytes, written_lines)
        return broken, True, 1 << 20

    monkeypatch.setattr(HitLog, "advance", advance)
    served = Running(tmp_path / "hits", kind="native")
    try:
        raw = served.exchange(b"GET /p/lost.gif HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert raw.startswith(b"HTTP/1.1 200 OK")  # the pixel always answers
    finally:
        served.stop()
        os.close(broken)
    assert "hit log write failed, 1 hits not counted: Bad file descriptor" in caplog.text
    assert served.records() == []
