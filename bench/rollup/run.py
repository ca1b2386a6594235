"""Rollup throughput and dashboard query latency, on SQLite and PostgreSQL.

Writes a synthetic hit log (deterministic: seeded), rolls it up into an empty database,
and times the rollup (hits/s). Then times every dashboard query (``stats.queries``) over
the rolled-up data: p50/p95 of repeated runs.

    .venv/bin/python bench/rollup/run.py [--hits 10000000] [--postgres URL] [--write]

The log lines are generated once per run into a temporary directory (about 110 bytes per
hit). ``--write`` replaces the "Rollup" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from republish.models import Publisher  # noqa: E402
from republish.stats import queries  # noqa: E402
from republish.stats.rollup import rollup  # noqa: E402
from republish.store import publishers as publisher_store  # noqa: E402
from republish.store.db import Database  # noqa: E402
from republish.store.schema import stories  # noqa: E402

PUBLISHERS = 4  # the dashboard queries read publisher 1, which has 40% of the stories
STORIES = 3_000
SITES = 2_000
DAYS = 90
END = datetime(2026, 11, 24, tzinfo=UTC)
SEGMENT_HITS = 1_000_000
DAY_MS = 86_400_000
ROLLUP_TARGET = 200_000  # hits/s (issue 3)
QUERY_P95_TARGET_MS = 100


def story_id(n: int) -> str:
    return f"s{n:07d}"


def publisher_of(n: int) -> int:
    """Publisher 1 gets 2 stories in 5, the other three one each."""
    return 1 if n % 5 < 2 else n % 5


def site_name(n: int) -> str:
    return f"site{n}.example"


def _pairs(rng: random.Random) -> tuple[list[tuple[int, int, int]], list[float]]:
    """Every (story, site, publication ms) with its share of all hits (cumulative)."""
    start_ms = int((END - timedelta(days=DAYS)).timestamp() * 1000)
    end_ms = int(END.timestamp() * 1000)
    ranks = list(range(STORIES))
    rng.shuffle(ranks)  # popularity does not depend on when a story ran
    site_weights = [1 / (n + 1) ** 0.8 for n in range(SITES)]
    pairs: list[tuple[int, int, int]] = []
    weights: list[float] = []
    for n in range(STORIES):
        published_ms = start_ms + rng.randrange(end_ms - start_ms - DAY_MS // 4)
        # Republished by a few sites: 1 often, 20 at most (Pareto).
        count = min(20, int(rng.paretovariate(1.3)))
        sites: set[int] = set()
        while len(sites) < count:
            sites.add(rng.choices(range(SITES), site_weights)[0])
        story_weight = 1 / (ranks[n] + 1) ** 0.9
        total = sum(site_weights[s] for s in sites)
        for s in sorted(sites):
            pairs.append((n, s, published_ms))
            weights.append(story_weight * site_weights[s] / total)
    cumulative = list(itertools.accumulate(weights))
    return pairs, cumulative


def write_log(directory: Path, hits: int, fresh_visitors: bool = False, seed: int = 7) -> int:
    """Write ``hits`` records as time-ordered sealed segments; returns bytes written.

    Newsroom-like: each story is republished by a few sites (skewed), most of its views
    come in the first days after publication, pages have many readers and some come back
    the same day (the visitor hash changes every day), 8% bots, 2% prefetches, 3% of
    human hits without a Referer and 5% with only its origin. ``fresh_visitors``: every
    human hit is a new reader (the worst case for counting unique readers).
    """
    rng = random.Random(seed)
    segments = directory / "segments"
    segments.mkdir(parents=True)
    end_ms = int(END.timestamp() * 1000)
    pairs, cumulative = _pairs(rng)
    width = len(pairs).bit_length()
    drawn = rng.choices(range(len(pairs)), cum_weights=cumulative, k=hits)
    keys = []
    for index in drawn:
        published_ms = pairs[index][2]
        while True:
            # Most views within a day or two; a long tail over the following weeks.
            mean_days = 0.8 if rng.random() < 0.85 else 12.0
            ts_ms = published_ms + int(rng.expovariate(1 / mean_days) * DAY_MS)
            if ts_ms < end_ms:
                break
        keys.append(ts_ms << width | index)
    del drawn
    keys.sort()
    mask = (1 << width) - 1
    pages = [f"https://www.{site_name(s)}/2026/{story_id(n)}-a-story" for n, s, _ in pairs]
    origins = [f"https://www.{site_name(s)}/" for _, s, _ in pairs]
    ids = [story_id(n).encode() for n, _, _ in pairs]
    seen: dict[int, list[str]] = {}  # today's readers of each page (for repeat visits)
    day = -1
    written = 0
    crc32 = zlib.crc32
    random_ = rng.random
    bits = rng.getrandbits
    for number, first in enumerate(range(0, hits, SEGMENT_HITS)):
        lines = []
        for key in keys[first : first + SEGMENT_HITS]:
            ts_ms, index = key >> width, key & mask
            if ts_ms // DAY_MS != day:
                day, seen = ts_ms // DAY_MS, {}
            roll = random_()
            page = pages[index]
            if roll < 0.08:
                verdict, reason, visitor = "bot", "bot-user-agent", ""
            elif roll < 0.10:
                verdict, reason, visitor = "prefetch", "prefetch", ""
            else:
                verdict, reason = "human", ""
                readers = seen.setdefault(index, [])
                if readers and not fresh_visitors and random_() < 0.25:
                    visitor = readers[int(random_() * len(readers))]
                else:
                    visitor = f"{bits(128):032x}"
                    readers.append(visitor)
                if roll > 0.97:
                    page = ""
                elif roll > 0.92:
                    page = origins[index]
            body = b"1\t%d\t%s\t%s\t%s\t%s\t%s" % (
                ts_ms, ids[index], verdict.encode(), reason.encode(), visitor.encode(),
                page.encode(),
            )  # fmt: skip
            lines.append(b"%s\t%08x\n" % (body, crc32(body)))
        data = b"".join(lines)
        (segments / f"20261124T000000-bench-1-{number:06d}.seg").write_bytes(data)
        written += len(data)
    return written


def prepare(url: str) -> Database:
    db = Database(url)
    with db.begin() as conn:
        # Every table there, also those of older schema versions (and alembic_version).
        found = sa.MetaData()
        found.reflect(conn)
        found.drop_all(conn)
    db.upgrade()
    now = END
    with db.begin() as conn:
        ids = [
            publisher_store.insert_publisher(
                conn,
                Publisher(slug=f"bench{p}", name=f"Bench {p}", domains=(f"bench{p}.example",)),
                now,
            ).id
            for p in range(1, PUBLISHERS + 1)
        ]
        assert ids == list(range(1, PUBLISHERS + 1)), ids
        conn.execute(
            stories.insert(),
            [
                {
                    "id": story_id(n), "publisher_id": publisher_of(n),
                    "canonical_url": f"https://bench.example/{n}", "url_key": f"bench.example/{n}",
                    "headline": f"Story {n}", "dek": "", "bylines": [], "published_at": now,
                    "updated_at": None, "section": "", "tags": [], "origin": "",
                    "origin_evidence": "", "body_html": "<p>x</p>", "body_text": "x",
                    "content_hash": "x", "revision": 1, "created_at": now, "modified_at": now,
                }
                for n in range(STORIES)
            ],
        )  # fmt: skip
    return db


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    # Nearest rank: the smallest sample with at least 95% of them at or below it.
    return statistics.median(samples), samples[math.ceil(len(samples) * 0.95) - 1]


def query_bench(db: Database, runs: int) -> list[tuple[str, float, float]]:
    results = []
    period30 = queries.Period.last(30, END.date())
    period90 = queries.Period.last(90, END.date())
    top_story = story_id(0)
    with db.connect() as conn:
        cases: list[tuple[str, Callable[[], Any]]] = [
            ("totals, 30 days", lambda: queries.totals(conn, 1, period30)),
            ("views per day, 90 days", lambda: queries.views_per_day(conn, 1, period90)),
            ("top stories, 30 days", lambda: queries.top_stories(conn, 1, period30)),
            ("top republishers, 30 days", lambda: queries.top_republishers(conn, 1, period30)),
            (
                "new republishers, 7 days",
                lambda: queries.new_republishers(conn, 1, END - timedelta(days=7)),
            ),
            (
                "story views per day, 90 days",
                lambda: queries.views_per_day(conn, 1, period90, top_story),
            ),
            ("story republications", lambda: queries.story_republications(conn, top_story)),
            (
                "site's stories, 30 days",
                lambda: queries.republisher_stories(conn, 1, "site0.example", period30),
            ),
        ]
        for name, fn in cases:
            fn()  # warm
            p50, p95 = timed(fn, runs)
            results.append((name, p50, p95))
    return results


class LoadSampler:
    """While something runs: the 1-minute load average every few seconds, and the peak
    resident memory of this process and of any one of its children (the rollup's
    helpers) every 0.1 s."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.samples: list[float] = []
        self.peak = _rss()
        self.child_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)

    def _run(self, every_s: float) -> None:
        due = 0.0
        while True:
            if time.monotonic() >= due:
                self.samples.append(os.getloadavg()[0])
                due = time.monotonic() + every_s
            self.peak = max(self.peak, _rss())
            self.child_peak = max([self.child_peak, *map(_rss, _children())])
            if self._stop.wait(0.1):
                return

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def summary(self) -> str:
        return f"{statistics.mean(self.samples):.1f} (max {max(self.samples):.1f})"


def _rss(pid: int | str = "self") -> int:
    """Resident memory of a process, bytes (0 if it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _children() -> list[int]:
    """This process's child processes (the rollup's helpers)."""
    me, found = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                found.append(int(entry.name))
    return found


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process on this machine (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the rollup's helpers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def timed_rollup(url: str, log_dir: Path, hits: int) -> dict[str, Any]:
    """Roll ``log_dir`` up into the database at ``url`` in a process of its own (so that
    its memory is its own): see :func:`_rollup_here`."""
    command = [sys.executable, __file__, "--rollup-only", url, str(log_dir), str(hits)]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _rollup_here(url: str, log_dir: Path, hits: int) -> dict[str, Any]:
    """Wall and CPU time (of this process with its helpers and, on PostgreSQL, of the
    server processes serving it), load average, peak memory of this process and of a
    helper."""
    db = Database(url)
    backends: set[int] = set()
    if db.dialect == "postgresql":
        sa.event.listen(db.engine, "connect", lambda dbapi, _: backends.add(dbapi.info.backend_pid))
    with LoadSampler() as load:
        started, cpu = time.perf_counter(), _own_cpu_seconds()
        result = rollup(db, log_dir, retention=timedelta(days=3650))
        seconds, cpu_s = time.perf_counter() - started, _own_cpu_seconds() - cpu
        server_s = sum(_cpu_seconds(pid) for pid in backends)
    assert result.hits == hits, (result.hits, hits)
    db.dispose()
    return {"hits_s": hits / seconds, "seconds": seconds, "cpu_us": cpu_s / hits * 1e6,
            "server_cpu_us": server_s / hits * 1e6 if backends else None,
            "load": load.summary(), "rss_mb": load.peak / 2**20,
            "helper_rss_mb": load.child_peak / 2**20 or None}  # fmt: skip


def analyze(db: Database) -> None:
    """PostgreSQL: what autovacuum does soon after a big write (statistics, visibility)."""
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def main() -> None:
    if sys.argv[1:2] == ["--rollup-only"]:  # the child process of timed_rollup
        url, log_dir, hits = sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
        print(json.dumps(_rollup_here(url, log_dir, hits)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hits", type=int, default=10_000_000)
    parser.add_argument(
        "--worst-hits", type=int, default=2_000_000, help="hits of the every-hit-a-new-reader log"
    )
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--write", action="store_true")
    parser.add_argument(
        "--report", type=Path, default=Path(__file__).with_name("last-run.json"),
        help="raw results are saved here; with --render, read from here instead of running",
    )  # fmt: skip
    parser.add_argument("--render", action="store_true", help="only re-render --report")
    parser.add_argument(
        "--only", choices=["SQLite", "PostgreSQL"],
        help="run one database and keep the other's results from --report (same arguments)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.render:
        saved = json.loads(args.report.read_text())
        publish(
            argparse.Namespace(**saved["args"] | {"write": args.write}),
            saved["report"],
            saved["date"],
        )
        return
    report: dict[str, dict[str, Any]] = {}
    if args.only:
        saved = json.loads(args.report.read_text())
        assert saved["args"]["hits"] == args.hits and saved["args"]["worst_hits"] == args.worst_hits
        report = {name: entry for name, entry in saved["report"].items() if name != args.only}

    def save() -> None:
        """Keep what is measured so far (a database restart mid-run loses nothing)."""
        date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        ordered = {n: report[n] for n in ("SQLite", "PostgreSQL") if n in report}
        saved = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}
        args.report.write_text(json.dumps(saved | {"report": ordered, "date": date}, indent=1))

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        databases = [("SQLite", f"sqlite:///{tmp}/bench.db"), ("PostgreSQL", args.postgres)]
        databases = [(name, url) for name, url in databases if args.only in (None, name)]
        logs = [("realistic", Path(tmp) / "hits", args.hits, False)]
        if args.worst_hits:
            logs.append(("worst", Path(tmp) / "worst", args.worst_hits, True))
        for label, log_dir, hits, fresh in logs:
            started = time.perf_counter()
            size = write_log(log_dir, hits, fresh_visitors=fresh)
            print(f"wrote {hits:,} {label} hits ({size / 1e6:.0f} MB) in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
        for name, url in databases:
            entry = report[name] = {}
            for label, log_dir, hits, _ in logs:
                db = prepare(url)
                db.dispose()
                entry[label] = timed_rollup(url, log_dir, hits)
                print(name, label, entry[label], flush=True)
                save()
                if label == "realistic":
                    with db.connect() as conn:
                        entry["rows"] = {
                            table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
                            for table in ("daily_stats", "republications")
                        }
                    analyze(db)
                    with LoadSampler() as load:
                        entry["queries"] = query_bench(db, args.runs)
                    entry["query_load"] = load.summary()
                    print(name, entry["rows"], entry["queries"], flush=True)
                    save()
                db.dispose()
    save()
    saved = json.loads(args.report.read_text())
    publish(args, saved["report"], saved["date"])


def publish(args: argparse.Namespace, report: dict[str, dict[str, Any]], date: str) -> None:
    """Print the section; with ``--write``, put it into bench/RESULTS.md."""
    text = render(args, report, date)
    print(text)
    if args.write:
        results = ROOT / "bench" / "RESULTS.md"
        current = results.read_text()
        pattern = re.compile(r"^## Rollup\n.*?(?=^## |\Z)", re.S | re.M)
        current = (
            pattern.sub(lambda _: text, current)
            if pattern.search(current)
            else current.rstrip() + "\n\n" + text
        )
        results.write_text(current)


def render(args: argparse.Namespace, report: dict[str, dict[str, Any]], date: str) -> str:
    """The "Rollup" section of bench/RESULTS.md."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), "")  # fmt: skip
    memory_gb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    names = list(report)
    first = report[names[0]]
    lines = [
        "## Rollup",
        "",
        f"Command: `.venv/bin/python bench/rollup/run.py --hits {args.hits} "
        f"--worst-hits {args.worst_hits} --runs {args.runs} --write`  ",
        f"Date: {date}  ",
        f"Machine: {os.cpu_count()} CPUs ({cpu}), {memory_gb:.0f} GB RAM, "
        f"Python {platform.python_version()}, SQLAlchemy {sa.__version__}, "
        f"SQLite {sqlite3.sqlite_version}, PostgreSQL {pg_version(args.postgres)} on the same "
        "machine (default settings), shared with other test runs (load averages below)  ",
        f"Data (seeded): {args.hits:,} hits over {DAYS} days for {STORIES:,} stories of "
        f"{PUBLISHERS} publishers, republished by 1 to 20 of {SITES:,} sites each (Pareto, "
        "big sites more often); most views within a day or two of publication, a long tail "
        "over weeks; about 1 human hit in 5 is the same reader coming back that day; 8% "
        "bots, 2% prefetches; 3% of human hits without a Referer, 5% with only its origin. "
        "*Worst case*: the same, but every human hit is a new reader.",
        "",
        "| log | database | rollup hits/s | seconds | CPU µs/hit, rollup (with helpers) | "
        "CPU µs/hit, PostgreSQL server | peak memory (RSS), rollup process, MB | "
        "peak memory (RSS), a helper, MB | load average during the rollup |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    labels = [("realistic", f"realistic, {args.hits:,} hits")]
    if args.worst_hits:
        labels.append(("worst", f"worst case, {args.worst_hits:,} hits"))
    for label, title in labels:
        for name in names:
            r = report[name][label]
            server = r.get("server_cpu_us")
            lines.append(
                f"| {title} | {name} | {r['hits_s']:,.0f} | {r['seconds']:.0f} | "
                f"{r['cpu_us']:.1f} | {'–' if server is None else f'{server:.1f}'} | "
                f"{_mb(r, 'rss_mb')} | {_mb(r, 'helper_rss_mb')} | {r['load']} |"
            )
    lines += [
        "",
        "Rows after the realistic rollup: "
        + "; ".join(
            f"{name}: " + ", ".join(f"{t} {n:,}" for t, n in report[name]["rows"].items())
            for name in names
        )
        + ".",
        "",
        f"Dashboard queries (`republish.stats.queries`, publisher 1 of {PUBLISHERS}, which has "
        f"40% of the stories) after the realistic rollup, {args.runs} runs each after one "
        "warm-up; PostgreSQL after `VACUUM ANALYZE` (what autovacuum does after a big write). "
        "Load average during the queries: "
        + ", ".join(f"{name} {report[name]['query_load']}" for name in names)
        + ".",
        "",
        "| query | " + " | ".join(f"{n} p50 ms | {n} p95 ms" for n in names) + " |",
        "|---|" + "---:|---:|" * len(names),
    ]
    for index, (query, _, _) in enumerate(first["queries"]):
        cells = " | ".join(
            f"{report[n]['queries'][index][1]:.1f} | {report[n]['queries'][index][2]:.1f}"
            for n in names
        )
        lines.append(f"| {query} | {cells} |")
    lines += ["", targets(report)]
    notes = Path(__file__).with_name("notes.md")
    if notes.exists():
        lines += ["", notes.read_text().strip()]
    return "\n".join(lines) + "\n\n"


def _mb(row: dict[str, Any], key: str) -> str:
    return "–" if row.get(key) is None else f"{row[key]:,.0f}"


def targets(report: dict[str, dict[str, Any]]) -> str:
    """Whether this run met the targets, from its own numbers."""

    def verdict(met: bool) -> str:
        return "**met**" if met else "**not met**"

    rates = {name: entry["realistic"]["hits_s"] for name, entry in report.items()}
    rollup_text = "; ".join(
        f"{name} {rate:,.0f} hits/s ({rate / ROLLUP_TARGET:.0%}): {verdict(rate >= ROLLUP_TARGET)}"
        for name, rate in rates.items()
    )
    p95, query, database = max(
        (row[2], row[0], name) for name, entry in report.items() for row in entry["queries"]
    )
    return (
        f"**Targets** (from this run). Rollup ≥ {ROLLUP_TARGET:,} hits/s on the realistic log: "
        f"{rollup_text}. Dashboard queries p95 ≤ {QUERY_P95_TARGET_MS} ms: "
        f"{verdict(p95 <= QUERY_P95_TARGET_MS)} (slowest p95 {p95:.0f} ms: {query} on "
        f"{database})."
    )


def pg_version(url: str) -> str:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return str(conn.exec_driver_sql("SHOW server_version").scalar()).split()[0]
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
