"""Polling speed: a generated N-entry RSS feed read once and again, SQLite and PostgreSQL.

    .venv/bin/python bench/sources/run.py [--entries 1000] [--postgres URL]

For each database: the feed read and parsed alone (``read_feed``), then a one-off poll
that stores every story (first run: all new) and the same poll again (all unchanged), and
a summary-only feed of 200 entries whose pages are fetched and extracted. Prints seconds
and stories per second. The feed and pages are served by a loopback server in this
process; the database is a fresh SQLite file or a fresh PostgreSQL schema (dropped after).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from republish import publishers  # noqa: E402
from republish.config import Settings  # noqa: E402
from republish.ingest.poll import one_off_source, poll_source  # noqa: E402
from republish.ingest.sources.feed import read_feed  # noqa: E402
from republish.net import Client  # noqa: E402
from republish.store.db import Database  # noqa: E402
from tests.servers import LoopbackServer, Response  # noqa: E402
from tests.sources_fixtures import make_feed  # noqa: E402
from tests.sources_site import BASE_DATE, Site  # noqa: E402

RSS = {"Content-Type": "application/rss+xml"}


def _timed(func: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def run(db_url: str, entries: int) -> list[tuple[str, int, float]]:
    db = Database(db_url)
    db.upgrade()
    settings = Settings(database_url=db_url, fetch_allow=("127.0.0.0/8",), fetch_timeout_s=60)
    server = LoopbackServer()
    server.start()
    rows = []
    try:
        base = server.url("").rstrip("/")
        feed_url = server.route("/feed.xml", Response(200, make_feed(entries, site=base), RSS))
        publisher, _ = publishers.create_publisher(db, "bench", "Bench")
        assert publisher.id is not None
        with Client(settings) as client:
            seconds, _ = _timed(lambda: read_feed(client, feed_url))
        rows.append(("read and parse the feed only", entries, seconds))
        source = one_off_source(publisher.id, "feed", feed_url)
        for label in ("poll, full content, all new", "poll again, all unchanged"):
            seconds, summary = _timed(lambda: poll_source(db, settings, source))
            assert not summary.failed, summary.failed[:3]
            rows.append((label, entries, seconds))
        site = Site(server)
        site.add(200, start=5000)
        for story in site.stories.values():  # dated before the run, as a real feed is
            story.modified = BASE_DATE
        site.feed_full = False
        server.route("/summaries.xml", lambda _r: Response(200, site.rss(), RSS))
        for n in site.stories:
            server.route(f"/news/story-{n}", lambda _r, n=n: site._page_handler(n))
        pages = one_off_source(publisher.id, "feed", site.url("/summaries.xml"))
        for label in ("poll, summary only: 200 pages fetched", "poll again: no page fetched"):
            seconds, summary = _timed(lambda: poll_source(db, settings, pages))
            assert not summary.failed, summary.failed[:3]
            rows.append((label, 200, seconds))
    finally:
        server.stop()
        db.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--postgres", help="postgresql://... (a schema is created and dropped)")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")
    targets: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        targets.append(("SQLite", f"sqlite:///{tmp}/bench.db"))
        schema = f"bench_sources_{os.getpid()}"
        admin = None
        if args.postgres:
            admin = sa.create_engine(
                args.postgres.replace("postgresql://", "postgresql+psycopg://")
            )
            with admin.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            targets.append(("PostgreSQL", f"{args.postgres}?options=-csearch_path%3D{schema}"))
        try:
            for name, url in targets:
                for label, count, seconds in run(url, args.entries):
                    print(f"{name:10}  {label:40}  {count:5}  {seconds:7.2f} s  "
                          f"{count / seconds:7.0f} stories/s")  # fmt: skip
        finally:
            if admin is not None:
                with admin.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                admin.dispose()


if __name__ == "__main__":
    main()
