"""Stats queries and the ``rollup``/``stats`` commands read what the rollup wrote."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from republish import publishers
from republish.cli import cli
from republish.hits import DropReason, HitRecord, Verdict, encode
from republish.models import Extracted
from republish.pixel.log import HitLog
from republish.stats import queries
from republish.stats.rollup import rollup
from republish.store import stories
from republish.store.db import Database

TODAY = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def _seed(db: Database, log_dir: Path) -> tuple[str, str]:
    publisher, _ = publishers.create_publisher(db, "daily", "The Daily")
    assert publisher.id is not None
    ids = []
    for n in range(2):
        extracted = Extracted(
            headline=f"Story {n}", canonical_url=f"https://daily.example/{n}",
            body_html="<p>b</p>", body_text="b",
        )  # fmt: skip
        with db.begin() as conn:
            ids.append(stories.save_story(conn, publisher.id, extracted, "push", TODAY)[0].id)
    a, b = ids
    records = []
    for day in range(3):
        ms = int((TODAY - timedelta(days=day)).timestamp() * 1000)
        for n in range(day + 1):
            records.append(HitRecord(ms, a, Verdict.HUMAN, DropReason.NONE, f"r{n}",
                                     "https://paper-one.example/a"))  # fmt: skip
        records.append(HitRecord(ms, b, Verdict.HUMAN, DropReason.NONE, "x",
                                 "https://paper-two.example/b"))  # fmt: skip
    old = int((TODAY - timedelta(days=60)).timestamp() * 1000)
    records.append(HitRecord(old, b, Verdict.HUMAN, DropReason.NONE, "x",
                             "https://paper-three.example/b"))  # fmt: skip

    async def write() -> None:
        log = HitLog(log_dir / "segments")
        for record in records:
            await log.append(encode(record))
        await log.aclose()

    asyncio.run(write())
    return a, b


def test_queries(db: Database, tmp_path: Path) -> None:
    a, b = _seed(db, tmp_path)
    rollup(db, tmp_path)
    period = queries.Period.last(30, TODAY.date())
    with db.connect() as conn:
        assert queries.totals(conn, 1, period) == {
            "views": 9, "readers": 9, "bots": 0, "previews": 0, "republishers": 2,
        }  # fmt: skip
        per_day = queries.views_per_day(conn, 1, period)
        assert len(per_day) == 30
        assert [d["views"] for d in per_day[-3:]] == [4, 3, 2]
        assert [(s["story_id"], s["views"]) for s in queries.top_stories(conn, 1, period)] == [
            (a, 6), (b, 3),
        ]  # fmt: skip
        assert [r["site"] for r in queries.top_republishers(conn, 1, period)] == [
            "paper-one.example", "paper-two.example",
        ]  # fmt: skip
        since = TODAY - timedelta(days=7)
        assert {r["site"] for r in queries.new_republishers(conn, 1, since)} == {
            "paper-one.example", "paper-two.example",
        }  # fmt: skip
        pages = queries.story_republications(conn, b)
        assert [(p["page_url"], p["views"]) for p in pages] == [
            ("https://paper-two.example/b", 3), ("https://paper-three.example/b", 1),
        ]  # fmt: skip
        ran = queries.republisher_stories(conn, 1, "paper-one.example", period)
        assert [(s["story_id"], s["views"]) for s in ran] == [(a, 6)]


def test_rollup_and_stats_commands(db: Database, tmp_path: Path, cli_env: dict[str, str]) -> None:
    a, _ = _seed(db, tmp_path)
    env = cli_env | {"REPUBLISH_HIT_LOG_DIR": str(tmp_path)}
    runner = CliRunner()
    result = runner.invoke(cli, ["rollup"], env=env)
    assert result.exit_code == 0, result.output
    assert "Rolled up 10 hits from 1 segments." in result.output
    assert "Rolled up 0 hits" in runner.invoke(cli, ["rollup"], env=env).output
    result = runner.invoke(cli, ["stats", "--publisher", "daily", "--json"], env=env)
    report = json.loads(result.output)
    assert report["totals"]["views"] == 9
    result = runner.invoke(cli, ["stats", "--publisher", "daily", "--story", a], env=env)
    assert result.exit_code == 0, result.output
    assert "paper-one.example/a" in result.output
    result = runner.invoke(cli, ["stats", "--publisher", "nobody"], env=env)
    assert result.exit_code == 1 and "no publisher with slug 'nobody'" in result.stderr


def test_site_and_story_counts_take_only_rows_with_views(db: Database, tmp_path: Path) -> None:
    """Top stories count a story's republishing sites, top republishers a site's stories;
    a site or story seen only through bots over the period counts for neither."""
    a, b = _seed(db, tmp_path)
    ms = int(TODAY.timestamp() * 1000)
    bot = [
        HitRecord(ms, a, Verdict.BOT, DropReason.BOT_USER_AGENT, "", "https://bots.example/a"),
        HitRecord(ms, b, Verdict.BOT, DropReason.BOT_USER_AGENT, "", "https://paper-one.example/b"),
    ]

    async def write() -> None:
        log = HitLog(tmp_path / "segments")
        for record in bot:
            await log.append(encode(record))
        await log.aclose()

    time.sleep(1.1)  # segment names carry the second: this one must not reuse _seed's
    asyncio.run(write())
    rollup(db, tmp_path)
    period = queries.Period.last(30, TODAY.date())
    with db.connect() as conn:
        top = queries.top_stories(conn, 1, period)
        assert [(s["story_id"], s["views"], s["republishers"]) for s in top] == [
            (a, 6, 1), (b, 3, 1),
        ]  # fmt: skip
        sites = queries.top_republishers(conn, 1, period)
        assert [(r["site"], r["views"], r["stories"]) for r in sites] == [
            ("paper-one.example", 6, 1), ("paper-two.example", 3, 1),
        ]  # fmt: skip
