"""The demo's simulated history: hits through the real hit log and rollup, shown by
``republish stats``; deterministic; the hit log is recreated with the database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from republish.cli import cli
from republish.config import Settings
from republish.demo import DEMO_SLUG, hit_log_dir, reset_hit_log, seed_demo
from republish.demo.hits import simulated_records
from republish.hits import Verdict
from republish.store.db import Database
from republish.store.schema import daily_stats, republications

BASE = "http://127.0.0.1:8000"
WIRE = "reservoir-levels-wire"


def _run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def _stats_json(env: dict[str, str], database_url: str, *extra: str) -> dict[str, Any]:
    code, output = _run(
        env, "--database-url", database_url, "stats", "--publisher", DEMO_SLUG, "--json", *extra
    )
    assert code == 0, output
    report: dict[str, Any] = json.loads(output)
    return report


@pytest.fixture
def demo_env(cli_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)  # nothing the demo writes lands in the repository
    return cli_env


def test_demo_history_shows_in_stats(demo_env: dict[str, str], settings: Settings) -> None:
    code, output = _run(demo_env, "demo", "--no-serve", "--database-url", settings.database_url)
    assert code == 0, output
    assert "simulated hits" in output
    log_dir = hit_log_dir(settings.database_url)
    assert list((log_dir / "segments").glob("*.seg"))
    if settings.database_url.startswith("sqlite"):
        assert log_dir.parent == Path(settings.database_url.removeprefix("sqlite:///")).parent

    report = _stats_json(demo_env, settings.database_url)
    text = json.dumps(report)
    for site in ("cityweekly.example", "valley-news.example", "harbor-watch.github.io"):
        assert site in text
    # Own pages and CMS drafts are previews, crawlers are bots: none of them are views.
    assert "harborledger.example" not in text
    db = Database(settings.database_url)
    try:
        with db.connect() as conn:
            rows = conn.execute(sa.select(daily_stats)).mappings().all()
            pages = conn.execute(sa.select(republications.c.page_url)).scalars().all()
        days = {row["day"] for row in rows if row["views"]}
        assert len(days) >= 7  # several days of history, not one burst
        assert sum(row["bots"] for row in rows) > 0
        assert sum(row["previews"] for row in rows) > 0
        views = sum(row["views"] for row in rows)
        readers = sum(row["readers"] for row in rows)
        assert 0 < readers < views  # some readers came back
        assert not any("wp-admin" in page for page in pages)

        # The wire story is not offered, so no site runs it.
        code, output = _run(demo_env, "--database-url", settings.database_url, "story", "list",
                            "--publisher", DEMO_SLUG, "--json")  # fmt: skip
        [wire_id] = [s["id"] for s in json.loads(output) if "reservoirs" in s["headline"]]
        assert wire_id not in {row["story_id"] for row in rows}
    finally:
        db.dispose()

    # Running the demo again recreates the hit log: the same history, not twice as much.
    code, output = _run(demo_env, "demo", "--no-serve", "--database-url", settings.database_url)
    assert code == 0, output
    again = _stats_json(demo_env, settings.database_url)
    assert again["totals"] == report["totals"]


def test_simulated_records_are_deterministic_and_in_the_past(db: Database) -> None:
    site = seed_demo(db, BASE)
    now = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)
    first = simulated_records(site, now)
    assert first == simulated_records(site, now)
    assert first != simulated_records(site, now, seed=1)
    now_ms = int(now.timestamp() * 1000)
    oldest_ms = int((now - timedelta(days=10)).timestamp() * 1000)
    assert all(oldest_ms <= record.ts_ms < now_ms for record in first)
    wire = site.stories[WIRE].id
    assert wire not in {record.story_id for record in first}
    verdicts = {record.verdict for record in first}
    assert {Verdict.HUMAN, Verdict.BOT, Verdict.PREFETCH, Verdict.PREVIEW} <= verdicts


def test_hit_log_reset_refuses_a_directory_that_is_not_one(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ValueError, match="not a demo hit log"):
        reset_hit_log(tmp_path)
    assert (tmp_path / "notes.txt").exists()
    log_dir = tmp_path / "hits"
    reset_hit_log(log_dir)
    (log_dir / "segments" / "old.seg").write_bytes(b"x")
    reset_hit_log(log_dir)
    assert list((log_dir / "segments").iterdir()) == []


def test_a_recreated_hit_log_is_rolled_up_again(db: Database, tmp_path: Path) -> None:
    # A demo database on a server keeps its log positions while the hit log is recreated;
    # a new segment may get an old segment's name (same process, same second).
    from republish.demo import simulate_hits

    site = seed_demo(db, BASE)
    now = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)
    log_dir = tmp_path / "hits"
    reset_hit_log(log_dir)
    first = simulate_hits(db, log_dir, site, now=now)
    reset_hit_log(log_dir)
    second = simulate_hits(db, log_dir, site, now=now)
    assert first.hits > 0
    assert first.rollup.hits == second.rollup.hits == first.hits
    names = [path.name for path in (log_dir / "segments").iterdir()]
    assert len(names) == 1 and names[0].endswith("-history.seg")
