"""The rollup's fast paths count what the simple rules say: chunking, reader keys, bulk
loads and the 0004 migration change no number."""

from __future__ import annotations

import asyncio
import hashlib
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from republish import publishers
from republish.hits import DropReason, HitRecord, Verdict, encode, read_records
from republish.models import Extracted
from republish.pixel.log import HitLog
from republish.stats import queries
from republish.stats import rollup as rollup_module
from republish.stats.rollup import _Batch, rollup
from republish.store import hits as store
from republish.store import stories
from republish.store.db import Database
from republish.store.schema import daily_readers, daily_stats, republications

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
MS = int(T0.timestamp() * 1000)


def _stories(db: Database, slug: str, count: int) -> list[str]:
    publisher, _ = publishers.create_publisher(
        db, slug, slug.title(), {"domains": [f"{slug}.example"]}
    )
    assert publisher.id is not None
    ids = []
    for n in range(count):
        extracted = Extracted(
            headline=f"{slug} {n}", canonical_url=f"https://{slug}.example/{n}",
            body_html="<p>b</p>", body_text="b",
        )  # fmt: skip
        with db.begin() as conn:
            ids.append(stories.save_story(conn, publisher.id, extracted, "push", T0)[0].id)
    return ids


def _write(log_dir: Path, records: list[HitRecord]) -> None:
    async def run() -> None:
        log = HitLog(log_dir / "segments")
        for record in records:
            await log.append(encode(record))
        await log.aclose()

    asyncio.run(run())


def _hex(n: int) -> str:
    """A visitor hash shaped like the pixel's (32 hex digits)."""
    return hashlib.blake2b(str(n).encode(), digest_size=16).hexdigest()


def _tables(db: Database) -> tuple[set[tuple[object, ...]], set[tuple[object, ...]]]:
    with db.connect() as conn:
        stats = {tuple(row) for row in conn.execute(sa.select(daily_stats))}
        pages = {tuple(row) for row in conn.execute(sa.select(republications))}
    return stats, pages


def _mixed_log(a: str, b: str, c: str) -> list[HitRecord]:
    """Hits of two publishers' stories over two days: repeat readers, several pages per
    site, bots, prefetches, no Referer, URLs with a backslash and non-ASCII letters."""
    records = []
    pages = [
        "https://www.citypaper.example/news/ferry",
        "https://citypaper.example/amp/ferry",  # same site, another page
        "https://blog.other.example/p\\1",
        "https://nouvelles.example/été",
        "",
    ]
    for n in range(400):
        story = (a, b, c)[n % 3]
        page = pages[n % len(pages)]
        ts = MS + n * 400_000  # in time order (as the pixel writes), over two days
        roll = n % 25
        if roll == 0:
            records.append(HitRecord(ts, story, Verdict.BOT, DropReason.BOT_USER_AGENT, "", page))
        elif roll == 1:
            records.append(HitRecord(ts, story, Verdict.PREFETCH, DropReason.PREFETCH, "", page))
        else:
            # Readers come back (n % 37), on another page of the same site too.
            visitor = _hex(n % 37) if n % 2 else f"reader-{n % 11}"
            records.append(HitRecord(ts, story, Verdict.HUMAN, DropReason.NONE, visitor, page))
    return records


def test_small_chunks_count_like_one_chunk(database_url: str, tmp_path: Path) -> None:
    db = Database(database_url)
    a, b = _stories(db, "daily", 2)
    (c,) = _stories(db, "weekly", 1)
    records = _mixed_log(a, b, c)
    _write(tmp_path / "log", records)
    clock = T0.timestamp
    assert rollup(db, tmp_path / "log", clock=clock).hits == len(records)
    whole = _tables(db)
    with db.begin() as conn:
        for table in (daily_stats, republications, daily_readers):
            conn.execute(table.delete())
        conn.exec_driver_sql("DELETE FROM hit_log_positions")
    # About 20 lines per chunk: readers meet again across chunks and transactions.
    result = rollup(db, tmp_path / "log", clock=clock, chunk_bytes=2048)
    assert result.hits == len(records)
    assert _tables(db) == whole
    db.dispose()


def test_readers_checked_in_memory_or_in_the_database_count_alike(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(database_url)
    a, b = _stories(db, "daily", 2)
    (c,) = _stories(db, "weekly", 1)
    records = _mixed_log(a, b, c)
    _write(tmp_path / "log", records)
    clock = T0.timestamp
    # Small chunks: readers meet again across chunks and transactions.
    assert rollup(db, tmp_path / "log", clock=clock, chunk_bytes=2048).hits == len(records)
    in_memory = _tables(db)
    with db.begin() as conn:
        for table in (daily_stats, republications, daily_readers):
            conn.execute(table.delete())
        conn.exec_driver_sql("DELETE FROM hit_log_positions")
    # No day is small enough to load: every key is checked by the database.
    monkeypatch.setattr(rollup_module, "_LOAD_FLOOR", 0)
    monkeypatch.setattr(rollup_module, "_LOAD_PER_KEY", 0)
    loads: list[int] = []
    monkeypatch.setattr(
        rollup_module.store, "readers_of_day", lambda conn, day, limit: loads.append(day)
    )
    assert rollup(db, tmp_path / "log", clock=clock, chunk_bytes=2048).hits == len(records)
    assert loads == []
    assert _tables(db) == in_memory
    db.dispose()


def test_a_stale_day_in_memory_fails_the_pass_instead_of_counting_twice(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (a,) = _stories(db, "daily", 1)
    page = "https://one.example/x"
    first = HitRecord(MS, a, Verdict.HUMAN, DropReason.NONE, _hex(1), page)
    _write(tmp_path / "one", [first])
    rollup(db, tmp_path / "one", clock=T0.timestamp)
    # The same reader again, while the pass believes the day has no readers stored (as if
    # another rollup stored it after the day was loaded).
    again = HitRecord(MS + 1, a, Verdict.HUMAN, DropReason.NONE, _hex(1), page)
    (tmp_path / "one" / "segments" / "z-again.seg").write_bytes(encode(again))
    monkeypatch.setattr(rollup_module.store, "readers_of_day", lambda conn, day, limit: set())
    with pytest.raises(store.ReadersMoved):
        rollup(db, tmp_path / "one", clock=T0.timestamp)
    monkeypatch.undo()
    assert rollup(db, tmp_path / "one", clock=T0.timestamp).hits == 1
    with db.connect() as conn:
        views, readers = conn.execute(sa.select(daily_stats.c.views, daily_stats.c.readers)).one()
    assert (views, readers) == (2, 1)


def test_story_domains_are_read_once_per_pass_unknown_ids_again(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (a,) = _stories(db, "daily", 1)
    page = "https://one.example/x"
    records = [
        HitRecord(MS + n, story, Verdict.HUMAN, DropReason.NONE, _hex(n), page)
        for n in range(40)
        for story in (a, "nosuchstory")
    ]
    _write(tmp_path, records)
    asked: list[set[str]] = []
    real = store.story_domains

    def counting(conn: sa.Connection, story_ids: set[str]) -> dict[str, tuple[str, ...]]:
        asked.append(set(story_ids))
        return real(conn, story_ids)

    monkeypatch.setattr(rollup_module.store, "story_domains", counting)
    assert rollup(db, tmp_path, clock=T0.timestamp, chunk_bytes=1024).hits == len(records)
    assert len(asked) > 3  # several chunks
    assert asked[0] == {a, "nosuchstory"}
    assert all(ids == {"nosuchstory"} for ids in asked[1:])
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.sum(daily_stats.c.views))).scalar() == 40


def test_a_helper_process_counts_like_this_one(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(database_url)
    a, b = _stories(db, "daily", 2)
    (c,) = _stories(db, "weekly", 1)
    records = _mixed_log(a, b, c)
    _write(tmp_path / "log", records)
    clock = T0.timestamp
    assert rollup(db, tmp_path / "log", clock=clock, chunk_bytes=2048).hits == len(records)
    here = _tables(db)
    with db.begin() as conn:
        for table in (daily_stats, republications, daily_readers):
            conn.execute(table.delete())
        conn.exec_driver_sql("DELETE FROM hit_log_positions")
    monkeypatch.setattr(rollup_module, "HELPER_MIN_BYTES", 0)
    helpers: list[bool] = []
    read_ahead = rollup_module._read_ahead

    def recording(*args: object) -> object:
        helpers.append(bool(args[-1]))
        return read_ahead(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(rollup_module, "_read_ahead", recording)
    assert rollup(db, tmp_path / "log", clock=clock, chunk_bytes=2048).hits == len(records)
    assert helpers == [True]
    assert _tables(db) == here
    db.dispose()


def test_a_helper_that_dies_fails_the_pass_and_counts_nothing(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (a,) = _stories(db, "daily", 1)
    records = [
        HitRecord(MS + n, a, Verdict.HUMAN, DropReason.NONE, _hex(n), "https://one.example/x")
        for n in range(100)
    ]
    _write(tmp_path, records)
    monkeypatch.setattr(rollup_module, "HELPER_MIN_BYTES", 0)
    # The helper process fails before counting anything.
    monkeypatch.setattr(rollup_module, "HELPER_MODULE", "republish.no_such_module")
    with pytest.raises(RuntimeError, match="ended early"):
        rollup(db, tmp_path, clock=T0.timestamp, chunk_bytes=2048)
    _, pages = _tables(db)
    assert pages == set()
    monkeypatch.undo()
    assert rollup(db, tmp_path, clock=T0.timestamp, chunk_bytes=2048).hits == 100


def test_readers_are_unique_per_story_site_and_day(db: Database, tmp_path: Path) -> None:
    a, b = _stories(db, "daily", 2)
    same = _hex(1)
    day2 = 86_400_000
    records = [
        HitRecord(MS, a, Verdict.HUMAN, DropReason.NONE, same, "https://one.example/x"),
        HitRecord(MS + 1, a, Verdict.HUMAN, DropReason.NONE, same, "https://www.one.example/y"),
        HitRecord(MS + 2, a, Verdict.HUMAN, DropReason.NONE, same, "https://two.example/x"),
        HitRecord(MS + 3, b, Verdict.HUMAN, DropReason.NONE, same, "https://one.example/z"),
        HitRecord(MS + day2, a, Verdict.HUMAN, DropReason.NONE, same, "https://one.example/x"),
        HitRecord(MS + 4, a, Verdict.HUMAN, DropReason.NONE, "short", "https://one.example/x"),
    ]
    # The same reader as the second hit, last: already seen in an earlier transaction.
    _write(tmp_path, [*records, records[1]])
    # One line per chunk, so one transaction per hit.
    assert rollup(db, tmp_path, clock=T0.timestamp, chunk_bytes=150).hits == 7
    with db.connect() as conn:
        rows = conn.execute(
            sa.select(daily_stats.c.story_id, daily_stats.c.site, daily_stats.c.day,
                      daily_stats.c.views, daily_stats.c.readers)
        ).all()  # fmt: skip
    got = {(s, site, d.isoformat()): (v, r) for s, site, d, v, r in rows}
    day1, next_day = T0.date().isoformat(), (T0 + timedelta(days=1)).date().isoformat()
    assert got == {
        (a, "one.example", day1): (4, 2),  # the same reader on two pages, and "short"
        (a, "two.example", day1): (1, 1),
        (b, "one.example", day1): (1, 1),
        (a, "one.example", next_day): (1, 1),
    }


def test_reader_keys_separate_stories_sites_and_visitors() -> None:
    pair = store.site_key(b"abc", b"one.example")
    other_site = store.site_key(b"abc", b"two.example")
    other_story = store.site_key(b"abd", b"one.example")
    visitors = [_hex(n).encode() for n in range(2000)] + [b"v1", b"v2", b"", b"x" * 32]
    keys = {store.reader_key(pair, v) for v in visitors}
    assert len(keys) == len(visitors)
    assert all(-(2**63) <= key < 2**63 for key in keys)
    v = visitors[0]
    assert len({store.reader_key(k, v) for k in (pair, other_site, other_story)}) == 3
    assert store.reader_key(pair, v) == store.reader_key(pair, bytes(v))
    # The batch form gives the same keys, for pixel hashes alone and mixed with others.
    hashes = visitors[:2000]
    assert store.reader_keys(b"abc", b"one.example", hashes) == [
        store.reader_key(pair, h) for h in hashes
    ]
    assert store.reader_keys(b"abc", b"one.example", visitors) == [
        store.reader_key(pair, h) for h in visitors
    ]


def test_queries_see_only_their_publisher(db: Database, tmp_path: Path) -> None:
    (a,) = _stories(db, "daily", 1)
    (c,) = _stories(db, "weekly", 1)
    page = "https://citypaper.example/x"
    _write(tmp_path, [
        HitRecord(MS, a, Verdict.HUMAN, DropReason.NONE, "r1", page),
        HitRecord(MS, c, Verdict.HUMAN, DropReason.NONE, "r1", page),
        HitRecord(MS, c, Verdict.HUMAN, DropReason.NONE, "r2", page),
    ])  # fmt: skip
    rollup(db, tmp_path, clock=T0.timestamp)
    period = queries.Period.last(7, T0.date())
    with db.connect() as conn:
        ids = {slug: id_ for slug, id_ in conn.execute(sa.text("SELECT slug, id FROM publishers"))}
        daily, weekly = ids["daily"], ids["weekly"]
        assert queries.totals(conn, daily, period)["views"] == 1
        assert queries.totals(conn, weekly, period)["views"] == 2
        assert [s["story_id"] for s in queries.top_stories(conn, weekly, period)] == [c]
        assert queries.views_per_day(conn, daily, period, story_id=c)[-1]["views"] == 0
        assert (
            queries.republisher_stories(conn, daily, "citypaper.example", period)[0]["story_id"]
            == a
        )
        assert [
            r["stories"] for r in queries.new_republishers(conn, weekly, T0 - timedelta(1))
        ] == [1]


def test_migration_0004_keeps_counts_and_todays_readers(db: Database, tmp_path: Path) -> None:
    (a,) = _stories(db, "daily", 1)
    page = "https://citypaper.example/x"
    visitor = _hex(7)
    _write(tmp_path / "before", [HitRecord(MS, a, Verdict.HUMAN, DropReason.NONE, visitor, page)])
    rollup(db, tmp_path / "before", clock=T0.timestamp)
    config = db._alembic_config()
    command.downgrade(config, "2026_11_25_0003")
    try:
        with db.begin() as conn:
            assert "publisher_id" not in {
                c["name"] for c in sa.inspect(conn).get_columns("daily_stats")
            }
            # What the 0003 rollup would have stored for that hit.
            conn.execute(
                sa.text("INSERT INTO daily_visitors VALUES (:day, :story, :site, :visitor)"),
                {"day": T0.date(), "story": a, "site": "citypaper.example", "visitor": visitor},
            )
    finally:
        command.upgrade(config, "head")
    with db.connect() as conn:
        owner = conn.execute(sa.text("SELECT publisher_id FROM stories")).scalar_one()
        assert conn.execute(sa.select(daily_stats.c.publisher_id)).scalar_one() == owner
        assert conn.execute(sa.select(republications.c.publisher_id)).scalar_one() == owner
    # The same reader again after the upgrade: a view, not a new reader.
    again = HitRecord(MS + 5, a, Verdict.HUMAN, DropReason.NONE, visitor, page)
    (tmp_path / "before" / "segments" / "z-after.seg").write_bytes(encode(again))
    rollup(db, tmp_path / "before", clock=T0.timestamp)
    with db.connect() as conn:
        views, readers = conn.execute(sa.select(daily_stats.c.views, daily_stats.c.readers)).one()
    assert (views, readers) == (2, 1)


def test_chunk_counting_checks_lines_like_read_records() -> None:
    good = [
        encode(
            HitRecord(
                MS + n, "abc", Verdict.HUMAN, DropReason.NONE, f"v{n % 3}", "https://a.example/x"
            )
        )
        for n in range(5)
    ]
    bot = encode(
        HitRecord(MS, "abc", Verdict.BOT, DropReason.BOT_USER_AGENT, "", "https://a.example/x")
    )

    def signed(body: bytes) -> bytes:
        return b"%s\t%08x\n" % (body, zlib.crc32(body))

    flipped = good[1].replace(b"abc", b"abd", 1)  # CRC no longer matches
    other_version = signed(good[2].rsplit(b"\t", 1)[0].replace(b"1\t", b"2\t", 1))
    extra_field = signed(good[3].rsplit(b"\t", 1)[0] + b"\tmore")
    data = b"".join(
        [good[0], flipped, bot, other_version, extra_field, good[4], b"garbage\n", good[1][:30]]
    )
    # read_records (the reference decoder) and the rollup's fast loop agree on every line.
    records, consumed, damaged = read_records(data)
    batch = _Batch({})
    assert batch.add_data(data) == (consumed, len(records), damaged)
    assert (len(records), damaged) == (3, 4)
    expected = Counter(
        (
            r.story_id.encode(),
            r.page_url.encode(),
            r.ts_ms // 86_400_000,
            r.verdict.value.encode(),
            r.reason.value.encode(),
        )
        for r in records
    )
    assert batch.counts == expected
    assert {k: len(v) for k, v in batch.readers.items()} == {
        (MS // 86_400_000, b"abc", b"https://a.example/x"): 2  # v0 and v1
    }
