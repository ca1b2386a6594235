"""Pixel throughput and latency: our pixel (durable hit log) against nginx ``empty_gif``
and a minimal ASGI app returning a GIF, in the same run, on loopback.

Each server is pinned to one CPU (``taskset``), the load generator to the other: the
servers to the CPU that takes the interrupts of the disk holding the hit log, so that the
work of a server's syncs is not done on the load generator's CPU. For every
server: ``wrk`` with keep-alive and with ``Connection: close`` (bounded runs), then
``h2load`` at a fixed rate, half of that server's keep-alive maximum, for the p99 latency.

On two CPUs one wrk thread can open connections only about as fast as nginx (or the
pixel) accepts them, so the ``Connection: close`` column often measures wrk. The
server-bound runs (``--quota``) therefore repeat ``Connection: close`` with each server
limited to a share of its CPU by a cgroup quota, the same for every server, at 64 and 256
connections: there the server, not wrk, sets the rate.

    .venv/bin/python bench/pixel/run.py [--seconds 10] [--write]

Needs Debian's wrk, nghttp2-client (h2load) and nginx-light
(``apt-get install wrk nghttp2-client nginx-light``); the server-bound runs need root and
a cgroup CPU controller (v1 ``cpu`` or v2 ``cpu.max``) and are skipped without them.
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
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
REFERER = "https://citypaper.example/news/2026/ferry-vote"
CONNECTIONS = 64
# The CPUs of the servers and of the load generator (set in main, see choose_cpus).
CPUS = {"server": "0", "load": "1"}

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


MINIMAL_PROTOCOL = """
import asyncio, sys
import httptools, uvloop

RESPONSE = (b"HTTP/1.1 200 OK\\r\\nContent-Type: image/gif\\r\\nContent-Length: 43\\r\\n"
            b"Cache-Control: no-store\\r\\n\\r\\n" + GIF)
CLOSE = RESPONSE.replace(b"\\r\\n\\r\\n", b"\\r\\nConnection: close\\r\\n\\r\\n", 1)

class Minimal(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.parser = httptools.HttpRequestParser(self)
    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()
    def on_message_complete(self):
        if self.parser.should_keep_alive():
            self.transport.write(RESPONSE)
        else:
            self.transport.write(CLOSE)
            self.transport.close()

async def main():
    server = await asyncio.get_running_loop().create_server(
        Minimal, "127.0.0.1", int(sys.argv[1]), backlog=2048)
    await server.serve_forever()

uvloop.run(main())
"""

PIXEL_PATH = "/p/k3x9q2m7ab.gif"
GRANIAN_MODULE = (
    "from pathlib import Path\n"
    "from republish.pixel.app import PixelApp\n"
    "from republish.pixel.rsgi import PixelRSGI\n"
    "asgi = PixelApp(Path({hits!r}))\n"
    "rsgi = PixelRSGI(Path({hits!r}))\n"
)

# name -> (kind, detail). Peers first; rows whose name starts with "republish" are ours.
SERVERS = {
    "nginx empty_gif": ("nginx", ""),
    "minimal ASGI (uvicorn)": ("minimal-asgi", ""),
    "minimal protocol (uvloop + httptools)": ("minimal-protocol", ""),
    "republish pixel, native front": ("republish", "native"),
    "republish pixel, builtin server": ("republish", "builtin"),
    "republish pixel on uvicorn": ("republish", "uvicorn"),
    "republish pixel on granian (ASGI)": ("granian", "asgi"),
    "republish pixel on granian (RSGI)": ("granian", "rsgi"),
}


def start(name: str, tmp: Path) -> tuple[subprocess.Popen[bytes], int, str]:
    port = free_port()
    pin = ["taskset", "-c", CPUS["server"]]
    kind, detail = SERVERS[name]
    env = dict(os.environ)
    path = PIXEL_PATH
    if kind == "nginx":
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
        command = [*pin, "nginx", "-c", str(conf), "-p", str(tmp)]
    elif kind == "minimal-asgi":
        (tmp / "minimal.py").write_text(MINIMAL_APP)
        command = [*pin, PYTHON, "-m", "uvicorn", "minimal:app", "--port", str(port),
                   "--no-access-log", "--log-level", "warning", "--app-dir", str(tmp)]  # fmt: skip
    elif kind == "minimal-protocol":
        (tmp / "protocol.py").write_text(MINIMAL_APP.split("HEADERS")[0] + MINIMAL_PROTOCOL)
        command = [*pin, PYTHON, str(tmp / "protocol.py"), str(port)]
    elif kind == "granian":
        # The same pixel under granian (Rust HTTP server), through either of its interfaces.
        (tmp / "granian_pixel.py").write_text(GRANIAN_MODULE.format(hits=str(tmp / "hits")))
        granian = str(Path(PYTHON).with_name("granian"))
        command = [*pin, granian, "--interface", detail, "--host", "127.0.0.1", "--port",
                   str(port), "--workers", "1", "--loop", "uvloop", "--no-access-log",
                   "--working-dir", str(tmp), f"granian_pixel:{detail}"]  # fmt: skip
    else:
        command = [*pin, PYTHON, "-m", "republish", "pixel", "--port", str(port),
                   "--server", detail]  # fmt: skip
        env["REPUBLISH_HIT_LOG_DIR"] = str(tmp / "hits")
    return launch(command, tmp, port, env), port, path


def launch(
    command: list[str], tmp: Path, port: int, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a server with its output in ``tmp/stdout.txt`` (the pixel's own servers say
    there at stop how long batches took to become durable: :func:`stop_summary`) and wait
    until it listens on ``port``."""
    with (tmp / "stdout.txt").open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.DEVNULL)
    wait_for(port)
    return process


def stop_summary(tmp: Path) -> str | None:
    """The summary a server started by :func:`launch` printed at stop, if it did."""
    for line in (tmp / "stdout.txt").read_text(errors="replace").splitlines():
        if line.startswith("Stopped: "):
            return line.removeprefix("Stopped: ")
    return None


def _proc_stats() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, user + system CPU seconds) of every process, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the command: state ppid ... utime (14th field) stime (15th)
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return stats


def family(pid: int, stats: dict[int, tuple[int, float]] | None = None) -> set[int]:
    """``pid`` and its descendants."""
    stats = _proc_stats() if stats is None else stats
    members = {pid}
    changed = True
    while changed:
        changed = False
        for child, (parent, _) in stats.items():
            if parent in members and child not in members:
                members.add(child)
                changed = True
    return members


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its descendants (all threads), in seconds."""
    stats = _proc_stats()
    return sum(stats.get(member, (0, 0.0))[1] for member in family(pid, stats))


class CpuQuota:
    """A cgroup whose processes together get at most ``percent`` of one CPU (the CFS
    bandwidth controller: 1 ms of CPU per period of 100/percent ms), under cgroup v1's
    ``cpu`` controller or v2's ``cpu.max``. :func:`open` gives None where neither can be
    used (not root, no controller)."""

    def __init__(self, directory: Path, root: Path) -> None:
        self.directory, self.root = directory, root

    @classmethod
    def open(cls, percent: float) -> CpuQuota | None:
        period = round(1000 * 100 / percent)  # µs; the quota is the kernel's least, 1 ms
        name = f"republish-bench-{os.getpid()}"
        for root, v2 in ((Path("/sys/fs/cgroup/cpu"), False), (Path("/sys/fs/cgroup"), True)):
            try:
                if v2 and "cpu" not in (root / "cgroup.subtree_control").read_text().split():
                    continue
                directory = root / name
                directory.mkdir()
            except OSError:
                continue
            try:
                if v2:
                    (directory / "cpu.max").write_text(f"1000 {period}")
                else:
                    (directory / "cpu.cfs_period_us").write_text(str(period))
                    (directory / "cpu.cfs_quota_us").write_text("1000")
            except OSError:
                directory.rmdir()
                continue
            return cls(directory, root)
        return None

    def add(self, pid: int) -> None:
        """Put ``pid`` and its descendants under the quota."""
        for member in family(pid):
            (self.directory / "cgroup.procs").write_text(str(member))

    def close(self) -> None:
        """Lift the quota: its processes go back to the root group."""
        for line in (self.directory / "cgroup.procs").read_text().split():
            try:
                (self.root / "cgroup.procs").write_text(line)
            except OSError:  # ended meanwhile
                pass
        self.directory.rmdir()


def wrk(
    port: int, path: str, seconds: int, close: bool, connections: int = CONNECTIONS
) -> tuple[float, str, int]:
    command = ["taskset", "-c", CPUS["load"], "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
               "-H", f"User-Agent: {UA}", "-H", f"Referer: {REFERER}"]  # fmt: skip
    if close:
        command += ["-H", "Connection: close"]
    output = subprocess.run([*command, f"http://127.0.0.1:{port}{path}"], capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    done = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Socket errors:.*|Non-2xx.*", output)
    return rate, errors.group(0) if errors else "", done


class Latency(NamedTuple):
    asked: float  # req/s
    reached: float
    p50: float  # ms
    p99: float
    p99_corrected: float  # with the coordinated-omission correction
    stolen: float  # share of the CPUs' time the hypervisor took during the run, %


def cpu_ticks() -> tuple[int, int]:
    """(steal, all) ticks of every CPU so far, from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu "):
            values = [int(value) for value in line.split()[1:9]]
            return values[7], sum(values)
    return 0, 0


def cpu_times() -> dict[str, tuple[int, int]]:
    """(busy, all) ticks of each CPU so far, from /proc/stat; busy: user, nice, system,
    irq and softirq time (not idle, iowait or steal)."""
    times = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if re.match(r"cpu\d", line):
            name, *fields = line.split()
            values = [int(value) for value in fields[:8]]
            busy = values[0] + values[1] + values[2] + values[5] + values[6]
            times[name.removeprefix("cpu")] = (busy, sum(values))
    return times


def busy_share(before: dict[str, tuple[int, int]], cpu: str) -> float:
    """Percent of ``cpu``'s time since ``before`` it was busy."""
    busy, total = cpu_times()[cpu]
    return 100 * (busy - before[cpu][0]) / max(1, total - before[cpu][1])


def realtime_prefix() -> list[str]:
    """``chrt -f 10`` where it works (root, or CAP_SYS_NICE): h2load then runs before any
    other process on its CPU, so its own scheduling delays stay out of the latencies it
    measures (bench/pixel/stalls.py showed them there); else nothing."""
    if shutil.which("chrt") is None:
        return []
    probe = subprocess.run(["chrt", "-f", "10", "true"], capture_output=True)
    return ["chrt", "-f", "10"] if probe.returncode == 0 else []


REALTIME: list[str] = []  # set in main


def h2load_command(port: int, path: str, per_connection: int, seconds: int, log: Path) -> list[str]:
    """h2load over CONNECTIONS keep-alive connections, ``per_connection`` requests a second
    on each, pinned to the load generator's CPU (at the REALTIME priority), logging each
    request's start, status and time to ``log``."""
    return [*REALTIME, "taskset", "-c", CPUS["load"], "h2load", "--h1", "-c", str(CONNECTIONS),
            "--rps", str(per_connection), "-D", str(seconds), "--warm-up-time", "1",
            f"--log-file={log}", "-H", f"User-Agent: {UA}", "-H", f"Referer: {REFERER}",
            f"http://127.0.0.1:{port}{path}"]  # fmt: skip


def latency(port: int, path: str, rate: float, seconds: int) -> Latency:
    """h2load at a fixed rate over CONNECTIONS keep-alive connections, one request in
    flight on each: per-request times from its log, p50 and p99.

    h2load starts each connection's requests on a schedule and, when a response comes late,
    sends the requests that fell due at once; their times start when they are sent, so a
    late response hides the wait of the ones behind it. ``p99_corrected`` adds them back
    the way HdrHistogram's expected-interval correction does (a response late by k
    intervals adds samples at latency - interval, latency - 2 intervals, ...), an upper
    bound on that effect.
    """
    per_connection = max(round(rate / CONNECTIONS), 1)
    asked = per_connection * CONNECTIONS
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "latency.tsv"
        command = h2load_command(port, path, per_connection, seconds, log)
        steal_before, all_before = cpu_ticks()
        subprocess.run(command, capture_output=True, text=True, check=True)
        steal_after, all_after = cpu_ticks()
        rows = [line.split("\t") for line in log.read_text().splitlines()]
    times = sorted(int(row[2]) / 1000 for row in rows if row[1] == "200")
    interval = 1000 / per_connection
    corrected = list(times)
    for value in times:
        late = value - interval
        while late > 0:
            corrected.append(late)
            late -= interval
    corrected.sort()

    def percentile(values: list[float], share: float) -> float:
        return values[min(int(len(values) * share), len(values) - 1)]

    stolen = 100 * (steal_after - steal_before) / max(all_after - all_before, 1)
    return Latency(asked, len(times) / seconds, percentile(times, 0.5),
                   percentile(times, 0.99), percentile(corrected, 0.99), stolen)  # fmt: skip


def _interrupts() -> dict[str, list[int]]:
    """Interrupts so far per source and CPU, from /proc/interrupts."""
    lines = Path("/proc/interrupts").read_text().splitlines()
    cpus = len(lines[0].split())
    counts = {}
    for line in lines[1:]:
        name, _, rest = line.partition(":")
        fields = rest.split()[:cpus]
        if len(fields) == cpus and all(field.isdigit() for field in fields):
            counts[name.strip()] = [int(field) for field in fields]
    return counts


SYNC_BYTES = 200  # about one batch of hit log lines


def timed_syncs(fd: int, count: int) -> list[float]:
    """Durations in seconds, sorted, of ``count`` writes of SYNC_BYTES each followed by an
    ``fdatasync``, one after the other from the start of ``fd``, whose first ``count *
    SYNC_BYTES`` bytes are already written and synced (zeroed ahead, as the hit log's
    segments are, so a sync flushes only data)."""
    took: list[float] = []
    for index in range(count):
        started = time.perf_counter()
        os.pwrite(fd, b"x" * SYNC_BYTES, index * SYNC_BYTES)
        os.fdatasync(fd)
        took.append(time.perf_counter() - started)
    return sorted(took)


def median_p99(ordered: list[float]) -> tuple[float, float]:
    """The median and the 99th percentile of sorted values."""
    return ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.99)]


def choose_cpus(directory: Path) -> tuple[str, str, str]:
    """The server's CPU, the load generator's, and why: the servers go to the CPU that
    handled most interrupts of the busiest source during 2,000 ``fdatasync``s of a file in
    ``directory`` (the disk's completion interrupts, whose handling belongs to the server
    that syncs), the load generator to the other CPU. Each sync follows a 200-byte write
    into space zeroed ahead, as the hit log's batches do; their median and 99th percentile
    durations are the floor under any answer that waits for its hit to be durable."""
    path = directory / "irq-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.write(fd, bytes(2000 * SYNC_BYTES))
        os.fsync(fd)
        before = _interrupts()
        median, p99 = median_p99(timed_syncs(fd, 2000))
    finally:
        os.close(fd)
        path.unlink()
    after = _interrupts()
    deltas = {
        name: [now - then for now, then in zip(after[name], before[name], strict=True)]
        for name in after
        if name in before
    }
    source, per_cpu = max(deltas.items(), key=lambda item: sum(item[1]))
    if sum(per_cpu) < 2000 or len(per_cpu) < 2:
        return "0", "1", "no disk interrupts seen (servers on CPU 0)"
    server = max(range(len(per_cpu)), key=per_cpu.__getitem__)
    load = 1 if server == 0 else 0
    return (
        str(server),
        str(load),
        f"2,000 fdatasyncs in the hit log's directory raised {sum(per_cpu):,} interrupts of "
        f"source {source}, {per_cpu[server]:,} of them on CPU {server}; a write and "
        f"fdatasync took {median * 1e3:.2f} ms at the median, {p99 * 1e3:.2f} ms "
        "at the 99th percentile",
    )


def machine() -> str:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0]
    h2load_v = subprocess.run(
        ["h2load", "--version"], capture_output=True, text=True
    ).stdout.strip()
    import uvicorn

    return (
        f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, Python "
        f"{platform.python_version()}, uvicorn {uvicorn.__version__} (httptools, uvloop), "
        f"{nginx}, {wrk_v.split(' [')[0]}, {h2load_v}; hit log on {Path(tempfile.gettempdir())} "
        "(ext4, fdatasync per batch)"
    )


def server_bound(
    args: argparse.Namespace,
    running: dict[str, tuple[subprocess.Popen[bytes], int, str, Path]],
    best: dict[str, list[float]],
    busy_close: dict[str, tuple[float, float]],
    bound: dict[tuple[str, int], tuple[float, float]],
    errors: dict[str, str],
) -> str:
    """Connection: close with each server limited to ``--quota`` percent of its CPU, so
    that the server and not wrk sets the rate, at CONNECTIONS and 4 * CONNECTIONS
    connections: nginx and the servers whose unlimited rate wrk may have capped (its CPU
    at least 90% busy in their best run, or a rate of at least 0.8 of nginx's).
    Fills ``bound``; returns how it was measured, or why not."""
    names = list(running)
    chosen = [
        name
        for name in names
        if name == names[0] or busy_close[name][0] >= 90 or best[name][1] >= 0.8 * best[names[0]][1]
    ]
    quota = CpuQuota.open(args.quota)
    if quota is None:
        return (
            "not measured: no cgroup CPU controller could be used here (root and cgroup "
            "v1's cpu controller or v2's cpu.max are needed)"
        )
    try:
        for name in chosen:
            quota.add(running[name][0].pid)
        for round_ in range(args.rounds):
            for connections in (CONNECTIONS, 4 * CONNECTIONS):
                for name in chosen:
                    _, port, path, _ = running[name]
                    ticks = cpu_times()
                    rate, error, _ = wrk(port, path, args.seconds, True, connections)
                    busy = busy_share(ticks, CPUS["load"])
                    if rate > bound.get((name, connections), (0.0, 0.0))[0]:
                        bound[(name, connections)] = (rate, busy)
                    errors[name] = errors[name] or error
            print(f"server-bound round {round_ + 1}: {bound}", flush=True)
    finally:
        quota.close()
    period = 100 / args.quota
    return (
        f"{', '.join(chosen)}, each limited to {args.quota:g}% of its CPU (a CFS quota of "
        f"1 ms per {period:.2f} ms, on the server's processes and threads; interrupt and "
        f"kernel-worker time on that CPU is outside it), wrk Connection: close at "
        f"{CONNECTIONS} and {4 * CONNECTIONS} connections, round-robin, best of "
        f"{args.rounds} rounds of {args.seconds} s"
    )


def main() -> None:
    load = "/".join(f"{value:.2f}" for value in os.getloadavg())
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many runs each")
    parser.add_argument(
        "--common-rate",
        type=float,
        default=8000,
        help="also measure every server's latency at this same offered rate (req/s)",
    )
    parser.add_argument(
        "--quota",
        type=float,
        default=30,
        help="server-bound Connection: close runs with each server limited to this percent of "
        "its CPU, so that wrk is not the limit (0: skip; needs root and a cgroup CPU "
        "controller)",
    )
    parser.add_argument("--only", help="only the servers whose name matches this regex (and nginx)")
    parser.add_argument(
        "--server-cpu",
        type=int,
        choices=(0, 1),
        help="pin the servers to this CPU (default: the one that takes the disk's interrupts)",
    )
    args = parser.parse_args()
    if args.quota != 0 and not 0.1 <= args.quota <= 100:
        parser.error("--quota must be 0 (skip) or a percent from 0.1 to 100")
    for tool in ("wrk", "h2load", "nginx", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(
                f"{tool} is missing: apt-get install wrk nghttp2-client nginx-light util-linux"
            )
    names = list(SERVERS)
    if args.only:
        names = [name for name in names if name == names[0] or re.search(args.only, name)]
    # Every server runs for the whole measurement (an idle one costs nothing) and the wrk
    # runs go round-robin, best of --rounds: the machine is shared, and a neighbour's load
    # only ever slows a run down, so the best of interleaved rounds is the fairest ratio.
    best: dict[str, list[float]] = {name: [0.0, 0.0] for name in names}
    # The server's own CPU time per request (µs), least of the rounds: unlike the rate it
    # is not capped by the load generator.
    cpu: dict[str, list[float]] = {name: [float("inf"), float("inf")] for name in names}
    errors: dict[str, str] = {name: "" for name in names}
    # How busy the load generator's CPU and the server's CPU were in the best
    # Connection: close round: a saturated load CPU caps that column for every server.
    busy_close: dict[str, tuple[float, float]] = {name: (0.0, 0.0) for name in names}
    # Server-bound Connection: close: (server, connections) -> (best rate, load CPU busy %)
    bound: dict[tuple[str, int], tuple[float, float]] = {}
    bound_note = "not measured (--quota 0)"
    half: dict[str, Latency] = {}
    common: dict[str, Latency] = {}
    counted: dict[str, str] = {name: "" for name in names}
    stopped: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as root:
        server_cpu, load_cpu, why = choose_cpus(Path(root))
        if args.server_cpu is not None:
            server_cpu, load_cpu = str(args.server_cpu), str(1 - args.server_cpu)
            why = "chosen with --server-cpu"
        CPUS.update(server=server_cpu, load=load_cpu)
        REALTIME[:] = realtime_prefix()
        print(f"servers on CPU {server_cpu}, load generator on CPU {load_cpu}: {why}", flush=True)
        running = {}
        try:
            for name in names:
                tmp = Path(root) / str(len(running))
                tmp.mkdir()
                running[name] = (*start(name, tmp), tmp)
            for _, port, path, _ in running.values():
                wrk(port, path, 2, close=False)  # warm-up
            for round_ in range(args.rounds):
                for name, (process, port, path, _) in running.items():
                    for index, close in enumerate((False, True)):
                        before = cpu_seconds(process.pid)
                        ticks = cpu_times()
                        rate, error, done = wrk(port, path, args.seconds, close=close)
                        used = cpu_seconds(process.pid) - before
                        if close and rate > best[name][index]:
                            busy_close[name] = (busy_share(ticks, CPUS["load"]),
                                                busy_share(ticks, CPUS["server"]))  # fmt: skip
                        best[name][index] = max(best[name][index], rate)
                        cpu[name][index] = min(cpu[name][index], used / max(done, 1) * 1e6)
                        errors[name] = errors[name] or error
                    print(f"round {round_ + 1}: {name}: {best[name]}", flush=True)
            if args.quota > 0:
                bound_note = server_bound(args, running, best, busy_close, bound, errors)
            for name, (_, port, path, _) in running.items():
                half[name] = latency(port, path, best[name][0] / 2, args.seconds)
                common[name] = latency(port, path, args.common_rate, args.seconds)
        finally:
            for process, *_ in running.values():
                process.send_signal(signal.SIGTERM)
            for process, *_ in running.values():
                process.wait(timeout=60)
        for name, (_, _, _, tmp) in running.items():
            if SERVERS[name][0] in ("republish", "granian"):
                segments = (tmp / "hits" / "segments").iterdir()
                lines = sum(p.read_bytes().count(b"\n") for p in segments)
                counted[name] = f"{lines} hits in the log"
            summary = stop_summary(tmp)
            if summary is not None:
                stopped[name] = summary
    nginx = names[0]
    nginx_keep, nginx_close = best[nginx]
    lines = [
        "## Pixel",
        "",
        f"Command: `.venv/bin/python bench/pixel/run.py --seconds {args.seconds} "
        f"--rounds {args.rounds} --write`  ",
        f"Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}  ",
        f"Machine: {machine()}; load average at start {load}  ",
        f"Load: wrk -t1 -c{CONNECTIONS} pinned to CPU {load_cpu}, each server pinned to CPU "
        f"{server_cpu} ({why}), "
        f"{args.seconds} s per run, round-robin over the servers, best of {args.rounds} "
        f"rounds; latency: h2load (HTTP/1.1, {CONNECTIONS} keep-alive connections, one "
        f"request in flight on each, pinned to CPU {load_cpu}, "
        + ("at SCHED_FIFO priority 10, " if REALTIME else "at normal priority, ")
        + "1 s warm-up) at a fixed rate, "
        "half the "
        f"server's best keep-alive rate, and at a common {args.common_rate:,.0f} req/s for "
        "every server; p99 corrected: with HdrHistogram's coordinated-omission correction "
        "for the requests a late response held back; stolen: the share of both CPUs' time "
        "the hypervisor took during that latency run (/proc/stat steal), which holds "
        "every process alike. "
        "Server CPU: user + system time of the server's processes and threads during a wrk "
        "run over the requests wrk completed, the least of the rounds (kernel work done "
        "in softirq context on the other core is not in it). CPU busy, close: how busy the "
        "load generator's CPU and the server's CPU were (/proc/stat: user, system, irq, "
        "softirq) during the best Connection: close run; a load CPU near 100% means wrk, "
        "not the server, set that rate.",
        "",
        "| server | keep-alive req/s | Connection: close req/s | server CPU µs/req, "
        "keep-alive | server CPU µs/req, close | CPU busy, close: load / server % "
        "| half rate asked → reached, req/s "
        "| p50 ms | p99 ms | p99 corrected ms | stolen % | at the common rate: reached req/s "
        "| p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name in names:
        keep, close = best[name]
        at_half, at_common = half[name], common[name]
        lines.append(
            f"| {name} | {keep:,.0f} | {close:,.0f} | {cpu[name][0]:.1f} | {cpu[name][1]:.1f} "
            f"| {busy_close[name][0]:.0f} / {busy_close[name][1]:.0f} "
            f"| {at_half.asked:,.0f} → {at_half.reached:,.0f} | {at_half.p50:.2f} "
            f"| {at_half.p99:.2f} | {at_half.p99_corrected:.2f} | {at_half.stolen:.1f} "
            f"| {at_common.reached:,.0f} | {at_common.p50:.2f} | {at_common.p99:.2f} "
            f"| {errors[name] or '-'}{'; ' + counted[name] if counted[name] else ''} |"
        )
    lines.append("")
    for name in names[1:]:
        keep_ratio, close_ratio = best[name][0] / nginx_keep, best[name][1] / nginx_close
        if SERVERS[name][0] not in ("republish", "granian"):
            lines.append(
                f"{name} (peer, no hit log) / nginx: keep-alive {keep_ratio:.2f}, "
                f"new connections {close_ratio:.2f}.  "
            )
            continue
        at_half = half[name]
        met = [keep_ratio >= 0.40, close_ratio >= 0.90, at_half.p99_corrected < 5.0]
        latency_verdict = (
            ("met" if met[2] else "not met")
            if at_half.reached >= 0.98 * at_half.asked
            else f"not measurable here: h2load reached only {at_half.reached:,.0f} of the "
            f"{at_half.asked:,.0f} req/s asked"
        )
        cpu_keep = cpu[nginx][0] / cpu[name][0]
        cpu_close = cpu[nginx][1] / cpu[name][1]
        lines.append(
            f"{name} / nginx: keep-alive {keep_ratio:.2f} (target 0.40, "
            f"{'met' if met[0] else 'not met'}), new connections {close_ratio:.2f} (target "
            f"0.90, {'met' if met[1] else 'not met'}); by server CPU per request (nginx's / "
            f"this one's) {cpu_keep:.2f} and {cpu_close:.2f}; p99 at half rate "
            f"{at_half.p99:.2f} ms, corrected {at_half.p99_corrected:.2f} ms (target < 5 ms, "
            f"{latency_verdict}; {at_half.stolen:.1f}% of the CPU time stolen meanwhile); "
            f"p99 at the common {args.common_rate:,.0f} req/s "
            f"{common[name].p99:.2f} ms against nginx's {common[nginx].p99:.2f} ms.  "
        )
    for name, line in stopped.items():
        lines.append(f"{name}, over the whole measurement: {line}  ")
    many = 4 * CONNECTIONS
    lines += ["", f"**Server-bound new connections**: {bound_note}.", ""]
    if bound:
        nginx_bound = max(rate for (name, _), (rate, _) in bound.items() if name == nginx)
        lines += [
            f"| server | req/s at {CONNECTIONS} connections | load CPU busy % | req/s at "
            f"{many} connections | load CPU busy % | best / nginx's best |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name in names:
            if (name, CONNECTIONS) not in bound:
                continue
            few_rate, few_busy = bound[(name, CONNECTIONS)]
            many_rate, many_busy = bound[(name, many)]
            lines.append(
                f"| {name} | {few_rate:,.0f} | {few_busy:.0f} | {many_rate:,.0f} "
                f"| {many_busy:.0f} | {max(few_rate, many_rate) / nginx_bound:.2f} |"
            )
        for name in names[1:]:
            if (name, CONNECTIONS) not in bound or SERVERS[name][0] != "republish":
                continue
            ratio = max(bound[(name, CONNECTIONS)][0], bound[(name, many)][0]) / nginx_bound
            at_few = bound[(name, CONNECTIONS)][0] / bound[(nginx, CONNECTIONS)][0]
            lines.append(
                f"\n{name} / nginx, server-bound new connections: {ratio:.2f} of nginx's "
                f"best (target 0.90, {'met' if ratio >= 0.90 else 'not met'}); at "
                f"{CONNECTIONS} connections alone {at_few:.2f}."
            )
    capped = [name for name in names if busy_close[name][0] >= 95]
    if capped:
        lines.append(
            f"\nCaution: in the best Connection: close run of {', '.join(capped)}, the load "
            "generator's CPU was at least 95% busy: one wrk thread on one core set that rate, "
            "not the server, which compresses the new-connection ratios towards 1; the server "
            "CPU per request says what each server would reach on its own core."
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
