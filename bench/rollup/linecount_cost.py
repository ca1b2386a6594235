"""Instructions per line of the rollup's check-and-count loop (``count_lines``).

Writes a realistic log of N lines (``bench/rollup/run.py``'s generator, seeded), then counts
it under ``valgrind --tool=callgrind`` once and three times (fresh dicts each time):

    .venv/bin/python bench/rollup/linecount_cost.py --lines 100000 [--impl native|python]

prints the instructions per line: the difference of the two runs over 2 N lines, so that
starting Python, reading the log and writing it are left out; what the counts cost to free
and the garbage collections they cause are in.
Without valgrind, ``--time`` prints the seconds per line instead (best of 5).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _data(lines: int) -> bytes:
    from bench.rollup.run import write_log  # noqa: PLC0415 (imports SQLAlchemy: not in the child)

    with tempfile.TemporaryDirectory() as tmp:
        write_log(Path(tmp) / "log", lines)
        return b"".join(p.read_bytes() for p in sorted((Path(tmp) / "log").rglob("*.seg")))


def _count(path: str, impl: str, repeat: int) -> float:
    from republish.stats import linecount  # noqa: PLC0415

    # (count_lines_py: the pure-Python loop; before the compiled one, count_lines was it)
    python = getattr(linecount, "count_lines_py", linecount.count_lines)
    fn = python if impl == "python" else linecount.count_lines
    data = Path(path).read_bytes()
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn(data, Counter(), {}, {}, {})
        best = min(best, time.perf_counter() - started)
    return best


def _callgrind(path: str, impl: str, repeat: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        command += [sys.executable, __file__, "--child", path, "--impl", impl]
        command += ["--repeat", str(repeat)]
        result = subprocess.run(command, capture_output=True, text=True, check=True)
        match = re.search(r"Collected : (\d+)", result.stderr)
        assert match, result.stderr
        return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--impl", choices=["native", "python"], default="native")
    parser.add_argument("--time", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _count(args.child, args.impl, args.repeat)
        return
    from republish.stats import linecount  # noqa: PLC0415

    python = getattr(linecount, "count_lines_py", linecount.count_lines)
    print("compiled loop loaded:", linecount.count_lines is not python)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "hits.log")
        Path(path).write_bytes(_data(args.lines))
        if args.time:
            seconds = _count(path, args.impl, 5)
            print(f"{args.impl}: {seconds / args.lines * 1e9:.0f} ns per line (best of 5)")
            return
        once, thrice = _callgrind(path, args.impl, 1), _callgrind(path, args.impl, 3)
        print(f"{args.impl}: {(thrice - once) / (2 * args.lines):,.0f} instructions per line")


if __name__ == "__main__":
    main()
