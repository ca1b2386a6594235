"""Find where the pixel's latency stalls come from: h2load at a fixed rate against a
server, while a sampler on the load generator's CPU reads every 10 ms what each CPU did
(/proc/stat: user, system, iowait, irq, softirq, steal) and what the server's threads did
(/proc/PID/task/TID/stat CPU time, /proc/PID/task/TID/schedstat time spent runnable but
waiting for a CPU). Every response slower than ``--threshold-ms`` belongs to a stall; for
each stall the script prints the window's CPU accounting, so a stall shows whether the
server's threads were running, waiting for a CPU (and who had it: other processes, the
hypervisor's steal), or blocked (disk, locks).

    .venv/bin/python bench/pixel/stalls.py --runs 3 --seconds 15 --rate 48000
    .venv/bin/python bench/pixel/stalls.py --server nginx ...   # the same for nginx

Run it on an idle machine; it is a diagnosis, not a measurement of record.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (bench/pixel/run.py: servers, CPU choice)

TICK = os.sysconf("SC_CLK_TCK")
STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


@dataclass
class Sample:
    wall: float  # seconds since the epoch
    cpus: dict[str, list[int]]  # "cpu0" -> the STAT_FIELDS in ticks
    threads: dict[str, tuple[float, float, float]]  # name/tid -> (cpu s, run delay s, ctx sw)


@dataclass
class Sampler:
    pids: dict[str, int]  # what to call it -> process id
    interval_s: float = 0.01
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _threads(self) -> dict[str, tuple[float, float, float]]:
        found = {}
        tasks = [
            (label, task)
            for label, pid in self.pids.items()
            if Path(f"/proc/{pid}/task").is_dir()
            for task in Path(f"/proc/{pid}/task").iterdir()
        ]
        for label, task in tasks:
            try:
                comm = (task / "comm").read_text().strip()
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                run_ns = (task / "schedstat").read_text().split()
                status = (task / "status").read_text()
            except OSError:
                continue
            switches = sum(
                int(line.split()[1])
                for line in status.splitlines()
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"))
            )
            cpu = (int(fields[11]) + int(fields[12])) / TICK
            found[f"{label} {comm}/{task.name}"] = (cpu, int(run_ns[1]) / 1e9, float(switches))
        return found

    def _cpus(self) -> dict[str, list[int]]:
        found = {}
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("cpu") and line[3:4].isdigit():
                name, *values = line.split()
                found[name] = [int(value) for value in values[: len(STAT_FIELDS)]]
        return found

    def run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(Sample(time.time(), self._cpus(), self._threads()))
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        self._stop.set()


def h2load(port: int, rate: float, seconds: int, log: Path) -> subprocess.Popen[bytes]:
    """h2load at ``rate`` as run.latency runs it, started (not waited for)."""
    per_connection = max(round(rate / run.CONNECTIONS), 1)
    command = run.h2load_command(port, run.PIXEL_PATH, per_connection, seconds, log)
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stalls(log: Path, threshold_ms: float) -> list[tuple[float, float, int]]:
    """(start, end, slow responses) per stall: slow responses within 50 ms of each other."""
    slow = []
    for line in log.read_text().splitlines():
        start_us, status, duration_us = line.split("\t")[:3]
        if int(duration_us) / 1000 >= threshold_ms:
            begin = int(start_us) / 1e6
            slow.append((begin, begin + int(duration_us) / 1e6))
    slow.sort()
    grouped: list[tuple[float, float, int]] = []
    for begin, end in slow:
        if grouped and begin <= grouped[-1][1] + 0.05:
            first, last, count = grouped[-1]
            grouped[-1] = (first, max(last, end), count + 1)
        else:
            grouped.append((begin, end, 1))
    return grouped


def window(samples: list[Sample], begin: float, end: float) -> str:
    """What each CPU and each server thread did between the samples around the window."""
    before = max((s for s in samples if s.wall <= begin), key=lambda s: s.wall, default=None)
    after = min((s for s in samples if s.wall >= end), key=lambda s: s.wall, default=None)
    if before is None or after is None:
        return "  (no samples around it)"
    span = after.wall - before.wall
    lines = [f"  sampled {span * 1000:.0f} ms around it"]
    for cpu in sorted(after.cpus):
        delta = [
            (a - b) * 1000 / TICK for a, b in zip(after.cpus[cpu], before.cpus[cpu], strict=True)
        ]
        parts = ", ".join(
            f"{name} {ms:.0f}" for name, ms in zip(STAT_FIELDS, delta, strict=True) if ms
        )
        lines.append(f"  {cpu} (ms): {parts}")
    for name in sorted(after.threads):
        if name not in before.threads:
            continue
        (cpu_a, wait_a, sw_a), (cpu_b, wait_b, sw_b) = after.threads[name], before.threads[name]
        lines.append(
            f"  thread {name}: ran {1000 * (cpu_a - cpu_b):.0f} ms, runnable but waiting "
            f"{1000 * (wait_a - wait_b):.1f} ms, {sw_a - sw_b:.0f} switches"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default="native", help="a server of run.py (native, nginx)")
    parser.add_argument("--rate", type=float, default=48000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threshold-ms", type=float, default=50)
    parser.add_argument("--server-cpu", type=int, choices=(0, 1))
    parser.add_argument(
        "--normal-priority",
        action="store_true",
        help="run h2load at normal priority (run.py uses SCHED_FIFO where it can)",
    )
    parser.add_argument(
        "--sample-ms",
        type=float,
        default=10,
        help="sampling interval (the sampler shares "
        "the load generator's CPU: 10 ms costs it a few percent)",
    )
    args = parser.parse_args()
    names = [name for name in run.SERVERS if args.server in name]
    if len(names) != 1:
        parser.error(f"--server {args.server!r} matches {names or 'no server'}")
    with tempfile.TemporaryDirectory() as scratch:
        server_cpu, load_cpu, why = run.choose_cpus(Path(scratch))
    if args.server_cpu is not None:
        server_cpu, load_cpu = str(args.server_cpu), str(1 - args.server_cpu)
    run.CPUS.update(server=server_cpu, load=load_cpu)
    run.REALTIME[:] = [] if args.normal_priority else run.realtime_prefix()
    priority = "at SCHED_FIFO 10" if run.REALTIME else "at normal priority"
    print(f"{names[0]}: server on CPU {server_cpu}, h2load on CPU {load_cpu} {priority} ({why})")
    for number in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory() as tmp:
            process, port, _ = run.start(names[0], Path(tmp))
            try:
                os.sched_setaffinity(0, {int(load_cpu)})
                log = Path(tmp) / "latency.tsv"
                load = h2load(port, args.rate, args.seconds, log)
                sampler = Sampler({"server": process.pid, "load": load.pid}, args.sample_ms / 1000)
                thread = threading.Thread(target=sampler.run, daemon=True)
                thread.start()
                if load.wait() != 0:
                    raise SystemExit(f"h2load failed with exit code {load.returncode}")
                sampler.stop()
                thread.join()
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
            rows = len(log.read_text().splitlines())
            found = stalls(log, args.threshold_ms)
            print(f"run {number}: {rows:,} responses, {len(found)} stalls of "
                  f">= {args.threshold_ms:g} ms")  # fmt: skip
            for begin, end, count in found:
                print(f" stall at {time.strftime('%H:%M:%S', time.gmtime(begin))}"
                      f".{int(begin % 1 * 1000):03d}: {1000 * (end - begin):.0f} ms, "
                      f"{count} slow responses")  # fmt: skip
                print(window(sampler.samples, begin, end))
            if sampler.samples:
                print(" the whole run:")
                print(window(sampler.samples, sampler.samples[0].wall, sampler.samples[-1].wall))
            summary = (Path(tmp) / "stdout.txt").read_text().strip()
            if summary:
                print("  server:", summary.replace("\n", "\n  server: "))


if __name__ == "__main__":
    main()
