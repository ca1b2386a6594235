"""What one durable batch costs the disk path: a 200-byte write into space zeroed ahead plus
``fdatasync`` (what the hit log does per batch), repeated, under each of the block device's
I/O schedulers in alternation.

    sudo .venv/bin/python bench/pixel/sync_cost.py [--dir /tmp] [--syncs 10000] [--rounds 6]

Per scheduler and round: the CPU time of this process per sync (user + system: the system
call, and on a VM the exits it causes), how busy both CPUs were per sync (/proc/stat: user,
nice, system, irq, softirq; this includes the block layer's workers and the completion
interrupts, and anything else the machine did meanwhile) and the median and 99th
percentile time of a write + sync. Runs pinned to CPU 1. Needs root to switch the
scheduler (``/sys/block/DEV/queue/scheduler``); the original one is put back at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from run import SYNC_BYTES, cpu_times, median_p99, timed_syncs  # noqa: E402  (beside this)


def busy_ticks() -> int:
    """Busy clock ticks of all CPUs together: user, nice, system, irq, softirq."""
    return sum(busy for busy, _ in cpu_times().values())


def device_of(directory: Path) -> str:
    """The block device (e.g. ``vda``) holding ``directory``, from its device number."""
    number = os.stat(directory).st_dev
    link = Path(f"/sys/dev/block/{os.major(number)}:{os.minor(number)}").resolve()
    # a partition's directory has a "partition" file; its parent is the whole disk
    return link.parent.name if (link / "partition").exists() else link.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp"), help="where to write")
    parser.add_argument("--syncs", type=int, default=10000, help="syncs per round")
    parser.add_argument("--rounds", type=int, default=6, help="rounds (schedulers alternate)")
    args = parser.parse_args()
    if args.syncs < 100 or args.rounds < 1:
        parser.error("--syncs must be at least 100 and --rounds at least 1")
    device = device_of(args.dir)
    control = Path(f"/sys/block/{device}/queue/scheduler")
    text = control.read_text()
    schedulers = text.replace("[", "").replace("]", "").split()
    original = text.split("[")[1].split("]")[0] if "[" in text else schedulers[0]
    if os.geteuid() != 0:
        sys.exit("sync_cost: needs root to switch the I/O scheduler of " + device)
    os.sched_setaffinity(0, {1 if (os.cpu_count() or 1) > 1 else 0})
    tick = os.sysconf("SC_CLK_TCK")
    path = args.dir / f"sync-cost-{os.getpid()}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    results: dict[str, list[tuple[float, float, float, float]]] = {}
    try:
        os.write(fd, bytes(args.syncs * SYNC_BYTES))
        os.fsync(fd)
        for round_ in range(args.rounds):
            order = schedulers if round_ % 2 == 0 else schedulers[::-1]
            for scheduler in order:
                control.write_text(scheduler)
                usage = resource.getrusage(resource.RUSAGE_SELF)
                ticks = busy_ticks()
                median, p99 = median_p99(timed_syncs(fd, args.syncs))
                after = resource.getrusage(resource.RUSAGE_SELF)
                both = (busy_ticks() - ticks) / tick / args.syncs * 1e6
                own = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
                row = (own / args.syncs * 1e6, both, median * 1e6, p99 * 1e6)
                results.setdefault(scheduler, []).append(row)
                print(
                    f"round {round_ + 1}, {scheduler}: this process {row[0]:.1f} µs of CPU per "
                    f"sync, both CPUs busy {row[1]:.1f} µs per sync, p50 {row[2]:.0f} µs, "
                    f"p99 {row[3]:.0f} µs",
                    flush=True,
                )
    finally:
        control.write_text(original)
        os.close(fd)
        path.unlink()
    print(f"\n{device}, {args.syncs:,} syncs per round, {args.rounds} rounds, medians:")
    for scheduler, rows in results.items():
        own, both, p50, p99 = (statistics.median(row[k] for row in rows) for k in range(4))
        print(
            f"{scheduler}: this process {own:.1f} µs of CPU per sync, both CPUs {both:.1f} µs, "
            f"p50 {p50:.0f} µs, p99 {p99:.0f} µs"
        )


if __name__ == "__main__":
    main()
