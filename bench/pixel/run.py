"""Pixel throughput and latency: our pixel (durable hit log) against nginx ``empty_gif``
and a minimal ASGI app returning a GIF, in the same run, on loopback.

Each server is pinned to CPU 0 (``taskset``), the load generator to CPU 1. For every
server: ``wrk`` with keep-alive and with ``Connection: close`` (bounded runs), then
``hey`` at half of that server's keep-alive maximum for the p99 latency.

    .venv/bin/python bench/pixel/run.py [--seconds 10] [--write]

Needs Debian's wrk, hey and nginx-light (``apt-get install wrk hey nginx-light``).
``--write`` replaces the "Pixel" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
REFERER = "https://citypaper.example/news/2026/ferry-vote"
CONNECTIONS = 64

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        location /p/ {{ empty_gif; add_header Cache-Control no-store; }}
    }}
}}
"""

MINIMAL_APP = """
GIF = (b"GIF89a\\x01\\x00\\x01\\x00\\x80\\x00\\x00\\x00\\x00\\x00\\xff\\xff\\xff!\\xf9\\x04"
       b"\\x01\\x00\\x00\\x00\\x00,\\x00\\x00\\x00\\x00\\x01\\x00\\x01\\x00\\x00\\x02\\x02D"
       b"\\x01\\x00;")
HEADERS = [(b"content-type", b"image/gif"), (b"content-length", b"43"),
           (b"cache-control", b"no-store")]

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": GIF})
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def start(name: str, tmp: Path) -> tuple[subprocess.Popen[bytes], int, str]:
    port = free_port()
    pin = ["taskset", "-c", "0"]
    if name == "nginx empty_gif":
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
        command = [*pin, "nginx", "-c", str(conf), "-p", str(tmp)]
        path = "/p/x.gif"
        env = dict(os.environ)
    elif name == "minimal ASGI (uvicorn)":
        (tmp / "minimal.py").write_text(MINIMAL_APP)
        command = [*pin, PYTHON, "-m", "uvicorn", "minimal:app", "--port", str(port),
                   "--no-access-log", "--log-level", "warning", "--app-dir", str(tmp)]  # fmt: skip
        path = "/p/x.gif"
        env = dict(os.environ)
    elif name == "republish pixel on granian":
        # The same app under granian (Rust HTTP server), to choose the server by measurement.
        (tmp / "granian_pixel.py").write_text(
            "from pathlib import Path\nfrom republish.pixel.app import PixelApp\n"
            f"app = PixelApp(Path({str(tmp / 'hits')!r}))\n"
        )
        granian = str(Path(PYTHON).with_name("granian"))
        command = [*pin, granian, "--interface", "asgi", "--host", "127.0.0.1", "--port",
                   str(port), "--workers", "1", "--loop", "uvloop", "--no-access-log",
                   "--working-dir", str(tmp), "granian_pixel:app"]  # fmt: skip
        path = "/p/k3x9q2m7ab.gif"
        env = dict(os.environ)
    else:
        command = [*pin, PYTHON, "-m", "republish", "pixel", "--port", str(port)]
        path = "/p/k3x9q2m7ab.gif"
        env = dict(os.environ, REPUBLISH_HIT_LOG_DIR=str(tmp / "hits"))
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    wait_for(port)
    return process, port, path


def wrk(port: int, path: str, seconds: int, close: bool) -> tuple[float, str]:
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s",
               "-H", f"User-Agent: {UA}", "-H", f"Referer: {REFERER}"]  # fmt: skip
    if close:
        command += ["-H", "Connection: close"]
    output = subprocess.run([*command, f"http://127.0.0.1:{port}{path}"], capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Socket errors:.*|Non-2xx.*", output)
    return rate, errors.group(0) if errors else ""


def hey_p99(port: int, path: str, rate: float, seconds: int) -> tuple[float, float, float]:
    workers = 16
    command = ["taskset", "-c", "1", "hey", "-z", f"{seconds}s", "-c", str(workers),
               "-q", f"{max(rate / workers, 1):.0f}", "-H", f"User-Agent: {UA}",
               "-H", f"Referer: {REFERER}", f"http://127.0.0.1:{port}{path}"]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    achieved = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = float(re.search(r"50%+ in ([\d.]+) secs", output).group(1))  # type: ignore[union-attr]
    p99 = float(re.search(r"99%+ in ([\d.]+) secs", output).group(1))  # type: ignore[union-attr]
    return achieved, p50 * 1000, p99 * 1000


def machine() -> str:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0]
    import uvicorn

    return (
        f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, Python "
        f"{platform.python_version()}, uvicorn {uvicorn.__version__} (httptools, uvloop), "
        f"{nginx}, {wrk_v.split(' [')[0]}, hey; hit log on {Path(tempfile.gettempdir())} "
        "(ext4, fdatasync per batch)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    for tool in ("wrk", "hey", "nginx", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install wrk hey nginx-light util-linux")
    names = [
        "nginx empty_gif",
        "minimal ASGI (uvicorn)",
        "republish pixel (durable log)",
        "republish pixel on granian",
    ]
    rows = []
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            process, port, path = start(name, Path(tmp))
            try:
                wrk(port, path, 2, close=False)  # warm-up
                keep, keep_err = wrk(port, path, args.seconds, close=False)
                close, close_err = wrk(port, path, args.seconds, close=True)
                achieved, p50, p99 = hey_p99(port, path, keep / 2, args.seconds)
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
            counted = ""
            if name.startswith("republish"):
                segments = (Path(tmp) / "hits" / "segments").iterdir()
                lines = sum(p.read_bytes().count(b"\n") for p in segments)
                counted = f"{lines} hits in the log"
        rows.append((name, keep, close, achieved, p50, p99, keep_err or close_err, counted))
        print(rows[-1], flush=True)
    nginx_keep, nginx_close = rows[0][1], rows[0][2]
    lines = [
        "## Pixel",
        "",
        f"Command: `.venv/bin/python bench/pixel/run.py --seconds {args.seconds} --write`  ",
        f"Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}  ",
        f"Machine: {machine()}  ",
        f"Load: wrk -t1 -c{CONNECTIONS} pinned to CPU 1, each server pinned to CPU 0; "
        "latency: hey with 16 workers at half the server's keep-alive rate.",
        "",
        "| server | keep-alive req/s | Connection: close req/s | at half rate: req/s | p50 ms "
        "| p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, keep, close, achieved, p50, p99, errors, counted in rows:
        lines.append(
            f"| {name} | {keep:,.0f} | {close:,.0f} | {achieved:,.0f} | {p50:.2f} | {p99:.2f} "
            f"| {errors or '-'}{'; ' + counted if counted else ''} |"
        )
    lines.append("")
    for row in rows[2:]:
        lines.append(
            f"{row[0]} / nginx: keep-alive {row[1] / nginx_keep:.2f} (target 0.40), new "
            f"connections {row[2] / nginx_close:.2f} (target 0.90); p99 at half rate "
            f"{row[5]:.2f} ms (target < 5 ms).  "
        )
    lines.append("")
    notes = Path(__file__).with_name("notes.md")
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    text = "\n".join(lines)
    print(text)
    if args.write:
        results = ROOT / "bench" / "RESULTS.md"
        current = results.read_text() if results.exists() else "# Benchmark results\n\n"
        pattern = re.compile(r"^## Pixel\n.*?(?=^## |\Z)", re.S | re.M)
        current = pattern.sub(text, current) if pattern.search(current) else (
            current.rstrip() + "\n\n" + text)  # fmt: skip
        results.write_text(current)


if __name__ == "__main__":
    main()
