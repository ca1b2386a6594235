"""Per-request Python cost of the pixel, without any HTTP server.

Two loops over the same requests as the load test (Chrome User-Agent, a republisher
Referer), and a "varied" mix (500 Referers x 20 User-Agents) that still hits the caches
the way real traffic mostly does:

- ``core``: classify one request and build its log line (what every server shares);
- ``asgi``: the whole ASGI app, called directly, 64 requests at a time through the hit
  log (``sync=False``, so the disk is not measured);
- ``server``, ``server-close``: the builtin server's protocol fed raw requests on one
  keep-alive connection, or one new connection per request, with a stand-in socket and a
  log that is durable at once (its Python work only).

    .venv/bin/python bench/pixel/micro.py [--n 50000]
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python bench/pixel/micro.py --only core --n 20000   # instructions

Time per request is the best of five rounds. ``--instructions`` runs each loop under
callgrind twice (n and 0 requests) and prints instructions per request, which do not
depend on what else the machine is doing.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
REFERER = "https://citypaper.example/news/2026/ferry-vote"


def scopes(mix: str) -> list[dict[str, Any]]:
    def scope(ua: str, referer: str) -> dict[str, Any]:
        return {
            "type": "http",
            "method": "GET",
            "path": "/p/k3x9q2m7ab.gif",
            "client": ("198.51.100.7", 50000),
            "headers": [
                (b"host", b"127.0.0.1:8001"),
                (b"user-agent", ua.encode()),
                (b"referer", referer.encode()),
                (b"accept", b"image/avif,image/webp,*/*"),
            ],
        }

    if mix == "repeat":
        return [scope(CHROME, REFERER)]
    uas = [CHROME.replace("131.0", f"{100 + i}.0") for i in range(20)]
    refs = [f"https://site{i % 37}.example/news/{i}/story-{i}?utm_source=x" for i in range(500)]
    return [scope(uas[i % 20], refs[i % 500]) for i in range(10_000)]


def make_app(tmp: Path) -> Any:
    from republish.pixel.app import PixelApp

    return PixelApp(tmp, sync=False)


def core_loop(app: Any, requests: list[dict[str, Any]], n: int) -> None:
    core = getattr(app, "core", None)
    count = len(requests)
    if core is not None:  # the per-hit core shared by every server, as the ASGI app calls it
        wanted = core.header_names
        for i in range(n):
            scope = requests[i % count]
            fields = {name: value for name, value in scope["headers"] if name in wanted}
            core.hit(scope["path"], fields, scope["client"][0])
    else:  # before the per-hit core existed
        from republish.hits import encode

        for i in range(n):
            encode(app.record_for(requests[i % count]))


def asgi_loop(app: Any, requests: list[dict[str, Any]], n: int) -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    async def run() -> None:
        count = len(requests)
        for start in range(0, n, 64):
            await asyncio.gather(
                *(app(requests[i % count], receive, send) for i in range(start, min(n, start + 64)))
            )
        await app.shutdown()

    asyncio.run(run())


class _Transport:
    """Stands in for the socket: the builtin server's Python work, not the kernel's."""

    def __init__(self) -> None:
        self.sent = 0

    def write(self, data: bytes) -> None:
        self.sent += 1

    def close(self) -> None:
        pass

    def get_extra_info(self, name: str) -> Any:
        return ("198.51.100.7", 50000)


class _InstantLog:
    """Stands in for the hit log: every line is durable at once (the disk is not measured)."""

    def submit(self, line: bytes, done: Callable[[OSError | None], None]) -> None:
        done(None)


def _raw(scope: dict[str, Any], close: bool) -> bytes:
    lines = [f"GET {scope['path']} HTTP/1.1".encode()]
    lines += [b"%s: %s" % (name.title(), value) for name, value in scope["headers"]]
    if close:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _server(tmp: Path) -> Any:
    from republish.pixel.server import PixelServer

    server = PixelServer(tmp, sync=False)
    server.log = _InstantLog()  # type: ignore[assignment]
    return server


def server_loop(app: Any, requests: list[dict[str, Any]], n: int) -> None:
    from republish.pixel.server import _Connection

    server = _server(app.log_dir)
    raw = [_raw(scope, close=False) for scope in requests]
    count = len(raw)
    connection = _Connection(server)
    transport = _Transport()
    connection.connection_made(transport)  # type: ignore[arg-type]
    for i in range(n):
        connection.data_received(raw[i % count])
    assert transport.sent == n


def server_close_loop(app: Any, requests: list[dict[str, Any]], n: int) -> None:
    from republish.pixel.server import _Connection

    server = _server(app.log_dir)
    raw = [_raw(scope, close=True) for scope in requests]
    count = len(raw)
    transport = _Transport()
    for i in range(n):
        connection = _Connection(server)
        connection.connection_made(transport)  # type: ignore[arg-type]
        connection.data_received(raw[i % count])
        connection.connection_lost(None)
    assert transport.sent == n


LOOPS = {
    "core": core_loop,
    "asgi": asgi_loop,
    "server": server_loop,
    "server-close": server_close_loop,
}


def timed(loop: str, mix: str, n: int) -> float:
    best = float("inf")
    requests = scopes(mix)
    for _ in range(5):
        with tempfile.TemporaryDirectory() as tmp:
            LOOPS[loop](make_app(Path(tmp)), requests, 1000)  # warm the caches
            app = make_app(Path(tmp))
            start = time.perf_counter()
            LOOPS[loop](app, requests, n)
            best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def instructions(loop: str, mix: str, n: int) -> float:
    counts = []
    for requests in (n, 0):
        with tempfile.NamedTemporaryFile() as out:
            subprocess.run(
                ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out.name}",
                 sys.executable, __file__, "--run", loop, "--mix", mix, "--n", str(requests)],
                check=True, capture_output=True,
            )  # fmt: skip
            text = Path(out.name).read_text()
        counts.append(int(re.search(r"^summary: (\d+)", text, re.M).group(1)))  # type: ignore[union-attr]
    return (counts[0] - counts[1]) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--only", choices=sorted(LOOPS))
    parser.add_argument("--instructions", action="store_true", help="count with callgrind")
    parser.add_argument("--run", choices=sorted(LOOPS), help=argparse.SUPPRESS)
    parser.add_argument("--mix", default="repeat", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:  # one measured loop, for callgrind
        requests = scopes(args.mix)
        with tempfile.TemporaryDirectory() as tmp:
            LOOPS[args.run](make_app(Path(tmp)), requests, 1000)
            LOOPS[args.run](make_app(Path(tmp)), requests, args.n)
        return
    for loop in [args.only] if args.only else sorted(LOOPS):
        for mix in ("repeat", "varied"):
            if args.instructions:
                value = f"{instructions(loop, mix, args.n) / 1000:.1f}k instructions"
            else:
                value = f"{timed(loop, mix, args.n):.2f} µs"
            print(f"{loop:12} {mix:7} {value} per request", flush=True)


if __name__ == "__main__":
    main()
