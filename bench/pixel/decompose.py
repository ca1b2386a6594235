"""Where the pixel's extra cost per new connection goes: nginx ``empty_gif``, the pixel on
its native front, and the same front with the hit log's ``fdatasync`` switched off
(``sync=False``: every line is still written, in the same batches, but nothing waits for
the disk), measured in paired rounds of ``wrk`` with ``Connection: close``.

    .venv/bin/python bench/pixel/decompose.py [--rounds 8] [--seconds 3] [--connections 64]

Per round the three servers run one after the other, in an order that rotates from round
to round, so that a neighbour's load on the VM falls on all of them alike; per server and
round: the server's own CPU time per connection (its processes and threads, user +
system) and the busy time of the server's CPU per connection (/proc/stat: user, nice,
system, irq and softirq of that CPU, which also holds the disk's completion interrupts and
the kernel's block-layer work). The medians, and the medians of the paired differences,
say how much of the pixel's extra cost per connection the durable sync takes and how much
remains without it. Pinning and CPUs as in ``run.py`` (whose helpers this uses).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from run import (  # noqa: E402  (beside this)
    CPUS,
    PIXEL_PATH,
    PYTHON,
    choose_cpus,
    cpu_seconds,
    cpu_ticks,
    cpu_times,
    free_port,
    launch,
    start,
    stop_summary,
    wrk,
)

NO_SYNC = """
import sys
from pathlib import Path
from republish.pixel.native import NativePixelServer, run

server = NativePixelServer(Path(sys.argv[1]), sync=False)
run(server, "127.0.0.1", int(sys.argv[2]))
print("Stopped: " + server.summary(), flush=True)
"""

NAMES = ("nginx empty_gif", "republish pixel, native front", "native front, no fdatasync")


def start_no_sync(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    (tmp / "no_sync.py").write_text(NO_SYNC)
    command = ["taskset", "-c", CPUS["server"], PYTHON, str(tmp / "no_sync.py"),
               str(tmp / "hits"), str(port)]  # fmt: skip
    return launch(command, tmp, port), port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8, help="paired rounds (default 8)")
    parser.add_argument("--seconds", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    args = parser.parse_args()
    if args.rounds < 2 or args.seconds < 1 or args.connections < 1:
        parser.error("--rounds must be at least 2, --seconds and --connections at least 1")
    tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
    own: dict[str, list[float]] = {name: [] for name in NAMES}
    busy: dict[str, list[float]] = {name: [] for name in NAMES}
    rates: dict[str, list[float]] = {name: [] for name in NAMES}
    with tempfile.TemporaryDirectory() as root:
        server_cpu, load_cpu, why = choose_cpus(Path(root))
        CPUS.update(server=server_cpu, load=load_cpu)
        print(f"servers on CPU {server_cpu}, wrk on CPU {load_cpu}: {why}", flush=True)
        running: dict[str, tuple[subprocess.Popen[bytes], int, Path]] = {}
        try:
            for index, name in enumerate(NAMES):
                tmp = Path(root) / str(index)
                tmp.mkdir()
                if name == NAMES[2]:
                    running[name] = (*start_no_sync(tmp), tmp)
                else:
                    process, port, _ = start(name, tmp)
                    running[name] = (process, port, tmp)
            for _, port, _ in running.values():
                wrk(port, PIXEL_PATH, 2, close=True, connections=args.connections)  # warm-up
            steal_before = cpu_ticks()
            for round_ in range(args.rounds):
                shift = round_ % len(NAMES)
                order = NAMES[shift:] + NAMES[:shift]
                for name in order:
                    process, port, _ = running[name]
                    before_own, before_cpu = cpu_seconds(process.pid), cpu_times()[server_cpu]
                    rate, error, done = wrk(
                        port, PIXEL_PATH, args.seconds, close=True, connections=args.connections
                    )
                    if error:
                        print(f"  {name}: {error}", flush=True)
                    used = cpu_seconds(process.pid) - before_own
                    ticks = cpu_times()[server_cpu][0] - before_cpu[0]
                    own[name].append(used * 1e6 / max(done, 1))
                    busy[name].append(ticks * tick_us / max(done, 1))
                    rates[name].append(rate)
                print(
                    f"round {round_ + 1}: "
                    + "; ".join(
                        f"{name}: {rates[name][-1]:,.0f}/s, own {own[name][-1]:.1f} µs, "
                        f"CPU {busy[name][-1]:.1f} µs"
                        for name in NAMES
                    ),
                    flush=True,
                )
            steal_after = cpu_ticks()
        finally:
            for process, _, _ in running.values():
                process.send_signal(signal.SIGTERM)
            for process, _, _ in running.values():
                process.wait(timeout=60)
        stopped = {name: stop_summary(tmp) for name, (_, _, tmp) in running.items()}

    stolen = 100 * (steal_after[0] - steal_before[0]) / max(1, steal_after[1] - steal_before[1])
    print(
        f"\nmedians of {args.rounds} rounds, wrk -c{args.connections} Connection: close, "
        f"{args.seconds} s each; the hypervisor took "
        f"{stolen:.1f}% of the CPUs' time meanwhile"
    )
    print("| server | req/s | server's own CPU µs/conn | server CPU busy µs/conn |")
    print("|---|---:|---:|---:|")
    for name in NAMES:
        print(
            f"| {name} | {statistics.median(rates[name]):,.0f} | "
            f"{statistics.median(own[name]):.1f} | {statistics.median(busy[name]):.1f} |"
        )
    print("\npaired differences (medians over rounds), µs per connection:")
    pairs = ((NAMES[1], NAMES[0]), (NAMES[2], NAMES[0]), (NAMES[1], NAMES[2]))
    for first, second in pairs:
        own_diff = statistics.median(a - b for a, b in zip(own[first], own[second], strict=True))
        busy_diff = statistics.median(a - b for a, b in zip(busy[first], busy[second], strict=True))
        print(f"- {first} − {second}: own {own_diff:+.1f}, CPU busy {busy_diff:+.1f}")
    for name, summary in stopped.items():
        if summary is not None:
            print(f"{name}: {summary}")


if __name__ == "__main__":
    main()
