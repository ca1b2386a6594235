"""Simulated history for the demo: a few days of pixel hits from fictional republishers.

The hits go through the real path: :class:`HitRecord` lines written by the pixel's
:class:`HitLog`, then the real rollup, so the statistics show what a live install would.
Seeded, so every run tells the same story (relative to today).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url

from republish.demo.seed import DemoSite
from republish.hits import DropReason, HitRecord, Verdict, encode
from republish.pixel.log import HitLog
from republish.stats.rollup import SEALED_SUFFIX, RollupResult, rollup
from republish.store import hits as hit_store
from republish.store.db import Database

HIT_LOG_NAME = "republish-demo-hits"
DAYS = 10
SEED = 20261124

#: Fictional republishers: page URL pattern and how many readers a story gets there.
REPUBLISHERS: tuple[tuple[str, float], ...] = (
    ("https://www.cityweekly.example/news/{slug}", 60.0),
    ("https://valley-news.example/{year}/{slug}/", 35.0),
    ("https://harbor-watch.github.io/posts/{slug}.html", 8.0),
    ("https://www.coastalcourier.example/local/{slug}", 20.0),
    ("https://islandradio.example/stories/{slug}", 12.0),
)
#: The publisher's own pages (previews of its own copy: counted as previews, not views).
OWN_PAGE = "https://harborledger.example/news/{slug}"
#: A republisher's editor preview (the pixel already marks these as CMS previews).
CMS_PREVIEW_PAGE = "https://valley-news.example/wp-admin/post.php"


@dataclass(frozen=True)
class SimulatedHits:
    """What :func:`simulate_hits` wrote and rolled up."""

    hits: int
    stories: int
    days: int
    rollup: RollupResult


def hit_log_dir(database_url: str) -> Path:
    """The demo's hit log directory: beside a SQLite demo database; for a database server,
    one per database URL under the system's temporary directory."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / HIT_LOG_NAME
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"{HIT_LOG_NAME}-{digest}"


def reset_hit_log(directory: Path) -> None:
    """Delete and recreate the demo hit log (refused if it holds anything but a hit log)."""
    if directory.exists():
        unexpected = [p.name for p in directory.iterdir() if p.name not in {"segments", "salts"}]
        if unexpected or not directory.is_dir():
            raise ValueError(f"{directory} is not a demo hit log; not deleting it")
        shutil.rmtree(directory)
    (directory / "segments").mkdir(parents=True)


def _visitor(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def simulated_records(
    site: DemoSite, now: datetime, *, days: int = DAYS, seed: int = SEED
) -> list[HitRecord]:
    """Hits of the last ``days`` days on the offered demo stories, oldest first."""
    rng = random.Random(seed)
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    now_ms = int(now.timestamp() * 1000)
    records: list[HitRecord] = []
    offered = [slug for slug in site.stories if site.decisions[slug].republishable]
    for rank, slug in enumerate(offered):
        story = site.stories[slug]
        # Each story is picked up by a few republishers, on a day after it came out.
        chosen = rng.sample(REPUBLISHERS, k=max(1, len(REPUBLISHERS) - rank - 1))
        # Nobody runs a story before it came out (when that falls inside the window).
        published = story.published_at
        earliest = 0 if published is None else (published.date() - start.date()).days
        earliest = min(days - 1, max(0, earliest))
        for pattern, readers_per_day in chosen:
            page = pattern.format(slug=slug, year=now.year)
            first_day = min(days - 1, earliest + rng.randrange(0, max(1, days - 3)))
            for day in range(first_day, days):
                age = day - first_day
                day_start = start + timedelta(days=day)
                expected = readers_per_day * math.exp(-age / 3.0) / (1 + rank * 0.4)
                readers = [
                    _visitor(rng) for _ in range(max(1, round(expected * rng.uniform(0.6, 1.3))))
                ]

                def at(day_start: datetime = day_start) -> int:
                    # A moment of that day, never later than a little before now.
                    moment = day_start + timedelta(seconds=rng.uniform(0, 86_399))
                    return min(
                        int(moment.timestamp() * 1000), now_ms - rng.randrange(1_000, 600_000)
                    )

                for reader in readers:
                    for _ in range(1 + (rng.random() < 0.15)):  # some read twice
                        records.append(
                            HitRecord(at(), story.id, Verdict.HUMAN, DropReason.NONE, reader, page)
                        )
                for _ in range(rng.randrange(0, 4)):
                    records.append(
                        HitRecord(at(), story.id, Verdict.BOT, DropReason.BOT_USER_AGENT, "", page)
                    )
                if rng.random() < 0.3:
                    records.append(
                        HitRecord(at(), story.id, Verdict.PREFETCH, DropReason.PREFETCH, "", page)
                    )
        # The newsroom checks its own copy, and an editor previews a draft elsewhere.
        first = start + timedelta(days=earliest, hours=9)
        first_ms = min(int(first.timestamp() * 1000), now_ms - 60_000)
        records.append(
            HitRecord(first_ms, story.id, Verdict.HUMAN, DropReason.NONE, _visitor(rng),
                      OWN_PAGE.format(slug=slug))
        )  # fmt: skip
        records.append(
            HitRecord(first_ms + 5_000, story.id, Verdict.PREVIEW, DropReason.CMS_PREVIEW, "",
                      CMS_PREVIEW_PAGE)
        )  # fmt: skip
    records.sort(key=lambda record: record.ts_ms)
    return records


async def _write(segments: Path, records: list[HitRecord]) -> None:
    # No fsync per line: this history is made up, and one batch is written at once.
    log = HitLog(segments, sync=False)
    await asyncio.gather(*(log.append(encode(record)) for record in records))
    await log.aclose()


def _write_history(segments: Path, records: list[HitRecord]) -> None:
    before = set(segments.glob(f"*{SEALED_SUFFIX}"))
    asyncio.run(_write(segments, records))
    # The demo server's pixel, in this same process, names its first segment the same
    # way within the same second: a distinct name keeps the two apart for the rollup.
    for path in sorted(set(segments.glob(f"*{SEALED_SUFFIX}")) - before):
        path.rename(path.with_name(f"{path.stem}-history{SEALED_SUFFIX}"))


def _forget_stale_positions(db: Database, segments: Path) -> None:
    # A demo database on a server outlives the recreated hit log: positions stored for
    # segments that are gone would make a new segment of the same name look read.
    present = {path.stem for path in segments.iterdir()} if segments.is_dir() else set()
    with db.begin() as conn:
        stale = [name for name in hit_store.positions(conn) if name not in present]
        hit_store.forget_positions(conn, stale)


def simulate_hits(
    db: Database,
    directory: Path,
    site: DemoSite,
    *,
    days: int = DAYS,
    now: datetime | None = None,
    seed: int = SEED,
) -> SimulatedHits:
    """Write ``days`` days of simulated hits to the hit log in ``directory``, then roll up."""
    now = now or datetime.now(UTC)
    records = simulated_records(site, now, days=days, seed=seed)
    segments = directory / "segments"
    _forget_stale_positions(db, segments)
    _write_history(segments, records)
    result = rollup(db, directory, clock=now.timestamp)
    stories = len({record.story_id for record in records})
    return SimulatedHits(len(records), stories, days, result)
