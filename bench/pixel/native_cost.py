"""Instructions per request of the pixel's compiled front, counted by callgrind.

Starts ``republish pixel --server native`` under ``valgrind --tool=callgrind`` with
counting off, warms it up, then counts the user-space instructions (both threads: the
loop and the group-commit writer, C and the Python it calls) of ``--requests`` requests,
keep-alive over 10 connections and one connection per request. Kernel work (the socket
calls, ``fdatasync``) is not counted; instruction counts do not depend on what else the
machine is doing, unlike requests per second.

``--server nginx`` counts nginx's ``empty_gif`` the same way (bench/pixel/run.py's
configuration, in one process: ``master_process off``), the peer's user-space work per
request beside the front's.

    .venv/bin/python bench/pixel/native_cost.py [--requests 5000] [--server native|nginx]

Needs Debian's valgrind (and nginx-light for ``--server nginx``).
"""

from __future__ import annotations

import argparse
import os
import re
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from run import NGINX_CONF  # noqa: E402  (bench/pixel/run.py, beside this script)

PYTHON = sys.executable
UA = (
    b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/131.0.0.0 Safari/537.36"
)


def request(close: bool) -> bytes:
    return (
        b"GET /p/abc123.gif HTTP/1.1\r\nHost: pixel.example\r\nUser-Agent: " + UA + b"\r\n"
        b"Referer: https://citypaper.example/news/2026/ferry-vote\r\n"
        + (b"Connection: close\r\n" if close else b"")
        + b"\r\n"
    )


def keep_alive(port: int, total: int, connections: int = 10) -> None:
    """``total`` requests, one at a time on each of ``connections`` connections."""
    selector = selectors.DefaultSelector()
    left: dict[socket.socket, int] = {}
    data = request(False)
    for _ in range(connections):
        conn = socket.create_connection(("127.0.0.1", port))
        conn.setblocking(False)
        conn.sendall(data)
        selector.register(conn, selectors.EVENT_READ)
        left[conn] = total // connections - 1
    while left:
        for key, _ in selector.select():
            conn = key.fileobj
            assert isinstance(conn, socket.socket)
            answered = conn.recv(65536).count(b"HTTP/1.1 200")
            for _ in range(answered):
                if left[conn] > 0:
                    left[conn] -= 1
                    conn.sendall(data)
                else:
                    selector.unregister(conn)
                    conn.close()
                    del left[conn]
                    break


def one_per_connection(port: int, total: int) -> None:
    data = request(True)
    for _ in range(total):
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(data)
            while conn.recv(65536):
                pass


def control(pid: int, command: str) -> None:
    subprocess.run(["callgrind_control", command, str(pid)], check=True, capture_output=True)


def total_instructions(path: Path) -> int:
    found = re.search(r"^summary:\s+(\d+)", path.read_text(), re.MULTILINE)
    if found is None:
        found = re.search(r"^totals:\s+(\d+)", path.read_text(), re.MULTILINE)
    assert found is not None, path
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument(
        "--server", choices=("native", "nginx"), default="native", help="what to count"
    )
    args = parser.parse_args()
    if args.requests < 10:
        parser.error("--requests must be at least 10")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        if args.server == "nginx":
            conf = Path(tmp) / "nginx.conf"
            conf.write_text("master_process off;\n" + NGINX_CONF.format(tmp=tmp, port=port))
            command = ["nginx", "-c", str(conf), "-p", tmp]
        else:
            command = [
                PYTHON,
                "-m",
                "republish",
                "pixel",
                "--port",
                str(port),
                "--server",
                "native",
            ]
        server = subprocess.Popen(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}.%p",
                *command,
            ],
            env=os.environ | {"REPUBLISH_HIT_LOG_DIR": str(Path(tmp) / "hits")},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(1)
            rows = []
            for name, run in (
                ("keep-alive, 10 connections", lambda n: keep_alive(port, n)),
                ("one connection per request", lambda n: one_per_connection(port, n)),
            ):
                run(500)  # warm: caches filled, salt read, segment open
                control(server.pid, "--instr=on")
                control(server.pid, "-z")
                run(args.requests)
                control(server.pid, "-d")
                control(server.pid, "--instr=off")
                dumps = sorted(Path(tmp).glob("callgrind.out.*"), key=os.path.getmtime)
                rows.append((name, total_instructions(dumps[-1]) / args.requests))
        finally:
            server.terminate()
            server.wait(timeout=120)
    threads = "one process" if args.server == "nginx" else "both threads"
    print(f"| requests ({args.server}) | instructions per request (user space, {threads}) |")
    print("|---|---:|")
    for name, per_request in rows:
        print(f"| {name} | {per_request / 1000:.1f}k |")


if __name__ == "__main__":
    main()
