"""The rollup turns the hit log into summary tables: no loss, no double count."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from republish import publishers
from republish.hits import DropReason, HitRecord, Verdict, encode
from republish.models import Extracted
from republish.pixel.log import HitLog, data_end
from republish.stats import rollup as rollup_module
from republish.stats.rollup import rollup
from republish.stats.worker import RollupWorker
from republish.store import stories
from republish.store.db import Database
from republish.store.schema import daily_stats, dropped_daily, hit_log_positions, republications

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
MS = int(T0.timestamp() * 1000)


def _story(db: Database) -> str:
    publisher, _ = publishers.create_publisher(
        db, "daily", "The Daily", {"domains": ["daily.example"]}
    )
    assert publisher.id is not None
    extracted = Extracted(
        headline="H", canonical_url="https://daily.example/h", body_html="<p>b</p>",
        body_text="b",
    )  # fmt: skip
    with db.begin() as conn:
        story, _ = stories.save_story(conn, publisher.id, extracted, "push", T0)
    return story.id


def _write(log_dir: Path, records: list[HitRecord], seal: bool = True) -> None:
    async def run() -> None:
        log = HitLog(log_dir / "segments")
        for record in records:
            await log.append(encode(record))
        if seal:
            await log.aclose()

    asyncio.run(run())


def _stats(db: Database) -> dict[tuple[str, str], tuple[int, ...]]:
    with db.connect() as conn:
        rows = conn.execute(sa.select(daily_stats)).mappings().all()
    return {
        (r["story_id"], r["site"]): (r["views"], r["readers"], r["bots"], r["prefetches"],
                                     r["previews"])
        for r in rows
    }  # fmt: skip


def _human(story: str, page: str, visitor: str, offset_ms: int = 0) -> HitRecord:
    return HitRecord(MS + offset_ms, story, Verdict.HUMAN, DropReason.NONE, visitor, page)


def test_rollup_counts_views_readers_sites_and_drops(db: Database, tmp_path: Path) -> None:
    story = _story(db)
    page_a = "https://www.citypaper.example/news/ferry"
    records = [
        _human(story, page_a, "v1"),
        _human(story, page_a, "v1", 1000),
        _human(story, page_a, "v2", 2000),
        _human(story, "https://blog.other.example/", "v3"),
        _human(story, "", "v4"),
        _human(story, "https://daily.example/h", "v5"),  # the publisher's own site
        HitRecord(MS, story, Verdict.BOT, DropReason.BOT_USER_AGENT, "", page_a),
        HitRecord(MS, story, Verdict.PREFETCH, DropReason.PREFETCH, "", page_a),
        HitRecord(MS, story, Verdict.PREVIEW, DropReason.CMS_PREVIEW, "", page_a),
        _human("nosuchstory", page_a, "v6"),
        HitRecord(MS, "", Verdict.UNKNOWN_STORY, DropReason.MALFORMED, "", ""),
    ]
    _write(tmp_path, records)
    result = rollup(db, tmp_path, clock=lambda: T0.timestamp())
    assert result.hits == len(records)
    assert _stats(db) == {
        (story, "citypaper.example"): (3, 2, 1, 1, 1),
        (story, "other.example"): (1, 1, 0, 0, 0),
        (story, "unknown"): (1, 1, 0, 0, 0),
        (story, "daily.example"): (0, 0, 0, 0, 1),
    }
    with db.connect() as conn:
        pages = conn.execute(
            sa.select(republications.c.page_url, republications.c.views,
                      republications.c.first_seen, republications.c.last_seen)
        ).all()  # fmt: skip
        dropped = dict(conn.execute(sa.select(dropped_daily.c.reason, dropped_daily.c.hits)).all())
    assert sorted((p, v) for p, v, _, _ in pages) == [
        ("https://blog.other.example/", 1),
        (page_a, 3),
    ]
    first, last = next((f, la) for p, _, f, la in pages if p == page_a)
    assert (last - first).total_seconds() == 2
    assert dropped == {"unknown-story": 1, "malformed": 1}
    assert sorted(result.new_republishers) == [
        (story, "citypaper.example"),
        (story, "other.example"),
    ]


def test_rollup_is_idempotent_and_incremental(db: Database, tmp_path: Path) -> None:
    story = _story(db)
    page = "https://citypaper.example/a"
    _write(tmp_path, [_human(story, page, "v1")], seal=False)
    rollup(db, tmp_path)
    rollup(db, tmp_path)
    assert _stats(db)[(story, "citypaper.example")][0] == 1
    # A torn trailing line (a crash mid-write) is left for later, not misread.
    [segment] = list((tmp_path / "segments").iterdir())
    line = encode(_human(story, page, "v2"))
    end = data_end(segment)  # written as the hit log does: into the zeros ahead
    with segment.open("r+b") as handle:
        handle.seek(end)
        handle.write(line[:20])
    assert rollup(db, tmp_path).hits == 0
    with segment.open("r+b") as handle:
        handle.seek(end + 20)
        handle.write(line[20:])
    assert rollup(db, tmp_path).hits == 1
    assert _stats(db)[(story, "citypaper.example")][:2] == (2, 2)


def test_crash_before_commit_counts_nothing_twice(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = _story(db)
    _write(tmp_path, [_human(story, "https://c.example/x", f"v{i}", i) for i in range(50)])

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(rollup_module.store, "advance_position", crash)
    with pytest.raises(KeyboardInterrupt):
        rollup(db, tmp_path)
    assert _stats(db) == {}
    monkeypatch.undo()
    assert rollup(db, tmp_path).hits == 50
    assert _stats(db)[(story, "c.example")] == (50, 50, 0, 0, 0)


def test_racing_rollups_cannot_both_commit(db: Database, tmp_path: Path) -> None:
    story = _story(db)
    _write(tmp_path, [_human(story, "https://c.example/x", "v1")])
    from republish.store import hits as store

    with db.begin() as conn:
        store.advance_position(conn, "seg", None, 10, 1, 0, False, T0)
    with db.begin() as conn, pytest.raises(store.PositionMoved):
        store.advance_position(conn, "seg", None, 10, 1, 0, False, T0)
    with db.begin() as conn, pytest.raises(store.PositionMoved):
        store.advance_position(conn, "seg", 0, 10, 1, 0, False, T0)
    with db.connect() as conn:
        assert conn.execute(sa.select(hit_log_positions.c.offset)).scalar_one() == 10


def test_old_sealed_segments_are_removed_after_rollup(db: Database, tmp_path: Path) -> None:
    story = _story(db)
    _write(tmp_path, [_human(story, "https://c.example/x", "v1")])
    later = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    first = rollup(db, tmp_path, clock=lambda: T0.timestamp())
    assert first.segments_removed == 0
    second = rollup(db, tmp_path, clock=lambda: later)
    assert second.segments_removed == 1
    assert list((tmp_path / "segments").iterdir()) == []
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(hit_log_positions)).scalar() == 0
    assert _stats(db)[(story, "c.example")][0] == 1
    assert date(2026, 11, 24) == T0.date()


def test_the_worker_keeps_todays_readers_between_passes_and_drops_them_on_failure(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = _story(db)
    page = "https://www.citypaper.example/news/ferry"
    loads: list[int] = []
    real = rollup_module.store.blocks_of_day

    def counting(conn: sa.Connection, day: int) -> list[tuple[int, bytes]]:
        loads.append(day)
        return real(conn, day)

    monkeypatch.setattr(rollup_module.store, "blocks_of_day", counting)
    worker = RollupWorker(db, tmp_path)  # on the real clock: today's readers are kept
    now_ms = int(time.time() * 1000)
    segments = tmp_path / "segments"
    segments.mkdir()
    lines = [encode(_human(story, page, f"{n + 1:016x}" * 2, now_ms - MS - n)) for n in range(6)]
    for n in range(3):
        (segments / f"a{n}.seg").write_bytes(lines[n] + lines[n + 3] + lines[0])
        assert worker.run_once() is not None
    assert len(loads) == 1  # read once, then kept
    assert sum(v[0] for v in _stats(db).values()) == 9
    assert sum(v[1] for v in _stats(db).values()) == 6
    # A failed pass drops what the worker held: the next pass reads the day again.
    monkeypatch.setattr(rollup_module.store, "add_daily_stats", _fail)
    (segments / "b.seg").write_bytes(encode(_human(story, page, "new-reader", now_ms - MS)))
    assert worker.run_once() is None
    monkeypatch.undo()
    monkeypatch.setattr(rollup_module.store, "blocks_of_day", counting)
    assert worker.run_once() is not None
    assert len(loads) == 2
    assert sum(v[0] for v in _stats(db).values()) == 10
    assert sum(v[1] for v in _stats(db).values()) == 7


def _fail(*args: object) -> None:
    raise RuntimeError("the database went away")
