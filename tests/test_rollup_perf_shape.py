"""The rollup's fast paths count what the simple rules say: chunking, reader keys, bulk
loads and the 0004 migration change no number."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from alembic import command

from republish import publishers
from republish.hits import DropReason, HitRecord, Verdict, encode, read_records
from republish.models import Extracted
from republish.pixel.log import HitLog
from republish.stats import queries
from republish.stats import rollup as rollup_module
from republish.stats.linecount import count_chunks
from republish.stats.readers import KnownReaders, keys_of_many, unpack
from republish.stats.rollup import _Batch, rollup
from republish.store import hits as store
from republish.store import stories
from republish.store.db import Database
from republish.store.schema import daily_stats, reader_blocks, reader_days, republications

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


def _forget_rollups(db: Database) -> None:
    """Empty what rollups wrote, so that the same log is rolled up again."""
    with db.begin() as conn:
        for table in (daily_stats, republications, reader_blocks, reader_days):
            conn.execute(table.delete())
        conn.exec_driver_sql("DELETE FROM hit_log_positions")


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
    _forget_rollups(db)
    # About 20 lines per chunk: readers meet again across chunks and transactions.
    result = rollup(db, tmp_path / "log", clock=clock, chunk_bytes=2048)
    assert result.hits == len(records)
    assert _tables(db) == whole
    db.dispose()


def _add(db: Database, known: KnownReaders, day: int, keys: list[int]) -> list[int]:
    """Store ``keys`` of ``day`` (one group per key) in a transaction; return the new ones."""
    array = np.array(sorted(set(keys)), dtype=np.int64)
    with db.begin() as conn:
        fresh = known.add(conn, {day: (array, np.arange(len(array)))}, len(array))
    return array[fresh.astype(bool)].tolist()


def _stored(db: Database, day: int) -> list[int]:
    with db.connect() as conn:
        blocks = store.blocks_of_day(conn, day)
    return sorted(key for _, data in blocks for key in unpack(data).tolist())


def test_a_day_another_rollup_wrote_is_read_again(db: Database) -> None:
    one, other = KnownReaders(), KnownReaders()
    assert _add(db, one, 20_000, [1, 2]) == [1, 2]
    assert _add(db, other, 20_000, [2, 3]) == [3]  # loads the day: 2 was stored by one
    # one's copy of the day lacks 3: the version tells it so, and it reads the day again.
    assert _add(db, one, 20_000, [3, 4, -5]) == [-5, 4]
    assert _add(db, one, 20_000, [4, 5, 2**63 - 1, -(2**63)]) == [-(2**63), 5, 2**63 - 1]
    assert _stored(db, 20_000) == [-(2**63), -5, 1, 2, 3, 4, 5, 2**63 - 1]
    assert _add(db, other, 20_001, [1]) == [1]  # days apart
    # Nothing is kept of a transaction that rolled back.
    known = KnownReaders()
    with pytest.raises(RuntimeError), db.begin() as conn:
        known.add(conn, {20_001: (np.array([7]), np.array([0]))}, 1)
        raise RuntimeError("rolled back")
    assert _stored(db, 20_001) == [1]
    assert _add(db, KnownReaders(), 20_001, [1, 7]) == [7]


def test_a_copy_held_across_the_deletion_of_its_day_is_read_again(db: Database) -> None:
    one, other = KnownReaders(), KnownReaders()
    assert _add(db, one, 20_010, [1]) == [1]
    with db.begin() as conn:  # the day's salt is gone: its keys go
        store.delete_visitors_before(conn, store._EPOCH + timedelta(days=20_011))
    assert _stored(db, 20_010) == []
    assert _add(db, other, 20_010, [2]) == [2]
    # one's copy says {1}; the day now holds {2}: the version tells one to read it again.
    assert _add(db, one, 20_010, [2, 3]) == [3]
    assert _stored(db, 20_010) == [2, 3]


def test_runs_stay_few_and_hold_every_key(db: Database) -> None:
    rng = np.random.default_rng(3)
    known = KnownReaders()
    every: set[int] = set()
    for n in range(200):
        keys = rng.integers(-(2**63), 2**63 - 1, size=int(rng.integers(1, 400)), dtype=np.int64)
        keys[: len(keys) // 3] = rng.choice(np.array(sorted(every) or [0]), len(keys) // 3)
        # Now and then another rollup's copy (which must load the day first).
        new = _add(db, known if n % 7 else KnownReaders(), 20_002, keys.tolist())
        assert set(new) == set(keys.tolist()) - every
        every |= set(keys.tolist())
    assert _stored(db, 20_002) == sorted(every)
    with db.connect() as conn:
        runs = [len(data) // 8 for _, data in store.blocks_of_day(conn, 20_002)]
    assert len(runs) <= len(every).bit_length()


def test_rollups_at_once_count_each_reader_once(database_url: str) -> None:
    """Four rollups write overlapping keys of one day at the same time."""
    db = Database(database_url)
    rng = np.random.default_rng(5)
    pool = rng.integers(-(2**63), 2**63 - 1, size=3000, dtype=np.int64)
    batches = [[rng.choice(pool, 300).tolist() for _ in range(12)] for _ in range(4)]
    found: list[int] = []
    errors: list[BaseException] = []

    def run(mine: list[list[int]]) -> None:
        known = KnownReaders()
        try:
            for keys in mine:
                found.extend(_add(db, known, 20_003, keys))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    expected = {k for b in batches for keys in b for k in keys}
    assert sorted(found) == sorted(expected)  # each key new exactly once
    assert _stored(db, 20_003) == sorted(expected)
    db.dispose()


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
    assert keys_of_many(np.full(len(hashes), pair, dtype=np.uint64), hashes).tolist() == [
        store.reader_key(pair, h) for h in hashes
    ]
    assert keys_of_many(np.full(len(visitors), pair, dtype=np.uint64), visitors).tolist() == [
        store.reader_key(pair, h) for h in visitors
    ]
    # 32 characters that are not all hex digits are read as int() reads them, or hashed.
    odd = [b"g" * 32, b"0x" + b"a" * 30, b"+" + b"1" * 31, b" " + b"f" * 31, b"1_2" + b"0" * 29,
           b"ABCDEF0123456789" * 2, "é".encode() * 16, b"\xff" * 32]  # fmt: skip
    mixed = [*odd, *hashes[:3]]
    assert keys_of_many(np.full(len(mixed), pair, dtype=np.uint64), mixed).tolist() == [
        store.reader_key(pair, h) for h in mixed
    ]
    pairs = np.array([pair, other_site, other_story] * 4, dtype=np.uint64)
    twelve = [*odd, *hashes[:4]]
    assert keys_of_many(pairs, twelve).tolist() == [
        store.reader_key(int(k), v) for k, v in zip(pairs.tolist(), twelve, strict=True)
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


def test_migration_0007_keeps_todays_readers_both_ways(db: Database, tmp_path: Path) -> None:
    (a,) = _stories(db, "daily", 1)
    page = "https://citypaper.example/x"
    visitors = [_hex(n) for n in range(5)]
    records = [
        HitRecord(MS + n, a, Verdict.HUMAN, DropReason.NONE, v, page)
        for n, v in enumerate(visitors)
    ]
    _write(tmp_path / "log", records)
    rollup(db, tmp_path / "log", clock=T0.timestamp)
    day = store.day_number(T0.date())
    stored = _stored(db, day)
    assert len(stored) == 5
    config = db._alembic_config()
    command.downgrade(config, "2026_11_30_0006")
    try:
        with db.connect() as conn:
            rows = conn.execute(sa.text("SELECT day, reader FROM daily_readers")).all()
        assert sorted(rows) == [(day, key) for key in stored]
    finally:
        command.upgrade(config, "head")
    assert _stored(db, day) == stored
    # The same readers again after the round trip: views, not new readers.
    again = [HitRecord(MS + 9, a, Verdict.HUMAN, DropReason.NONE, v, page) for v in visitors[:2]]
    (tmp_path / "log" / "segments" / "z-after.seg").write_bytes(b"".join(map(encode, again)))
    rollup(db, tmp_path / "log", clock=T0.timestamp)
    with db.connect() as conn:
        views, readers = conn.execute(sa.select(daily_stats.c.views, daily_stats.c.readers)).one()
    assert (views, readers) == (7, 5)


def test_chunks_are_counted_from_several_reads(tmp_path: Path) -> None:
    records = [
        HitRecord(MS + n, "abc", Verdict.HUMAN, DropReason.NONE, _hex(n), f"https://a.example/{n}")
        for n in range(300)
    ]
    path = tmp_path / "one.seg"
    path.write_bytes(b"".join(map(encode, records)))
    size = path.stat().st_size
    chunks = list(count_chunks(path, 0, 4096, read_bytes=500))
    assert [c.more for c in chunks] == [True] * (len(chunks) - 1) + [False]
    assert all(4096 - 500 < c.consumed <= 4096 for c in chunks[:-1])
    assert sum(c.consumed for c in chunks) == size
    assert sum(c.hits for c in chunks) == 300
    assert sum(sum(c.counted[0].values()) for c in chunks) == 300
    # The same counts as one read of the whole file.
    (whole,) = count_chunks(path, 0, size + 1, read_bytes=size + 1)
    merged: Counter[object] = Counter()
    for chunk in chunks:
        merged.update(chunk.counted[0])
    assert merged == whole.counted[0]


def test_an_open_segment_ends_at_the_zeros_written_ahead(db: Database, tmp_path: Path) -> None:
    """The hit log zeroes space ahead of its data: counting stops at the first NUL, also
    when the zeros fill whole reads, and goes on from there once lines are written."""
    (a,) = _stories(db, "daily", 1)
    records = [
        HitRecord(MS + n, a, Verdict.HUMAN, DropReason.NONE, _hex(n), f"https://a.example/{n}")
        for n in range(40)
    ]
    lines = b"".join(map(encode, records[:30]))
    path = tmp_path / "segments" / "a.open"
    path.parent.mkdir()
    path.write_bytes(lines + bytes(5000))
    chunks = list(count_chunks(path, 0, 4096, read_bytes=500))
    assert sum(c.consumed for c in chunks) == len(lines)
    assert sum(c.hits for c in chunks) == 30
    assert not any(c.stuck for c in chunks) and not chunks[-1].more
    assert rollup(db, tmp_path, clock=T0.timestamp, chunk_bytes=2048).hits == 30
    assert rollup(db, tmp_path, clock=T0.timestamp, chunk_bytes=2048).hits == 0
    with path.open("r+b") as handle:  # the writer goes on into the zeros
        handle.seek(len(lines))
        handle.write(b"".join(map(encode, records[30:])))
    assert rollup(db, tmp_path, clock=T0.timestamp, chunk_bytes=2048).hits == 10
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.sum(daily_stats.c.views))).scalar() == 40


def test_a_line_longer_than_a_read_stops_the_segment_with_an_error(
    db: Database, tmp_path: Path
) -> None:
    (a,) = _stories(db, "daily", 1)
    good = [
        HitRecord(MS + n, a, Verdict.HUMAN, DropReason.NONE, _hex(n), "https://one.example/x")
        for n in range(20)
    ]
    long = HitRecord(
        MS + 99, a, Verdict.HUMAN, DropReason.NONE, _hex(99), "https://one.example/" + "y" * 3000
    )
    segment = tmp_path / "segments" / "a.seg"
    segment.parent.mkdir()
    segment.write_bytes(b"".join(map(encode, [*good, long, *good])))
    with pytest.raises(RuntimeError, match="a line longer than 2048 bytes"):
        rollup(db, tmp_path, clock=T0.timestamp, chunk_bytes=2048)
    with db.connect() as conn:
        # The lines before it are counted; the rollup stops at that line every time.
        assert conn.execute(sa.select(sa.func.sum(daily_stats.c.views))).scalar() == 20
    with pytest.raises(RuntimeError, match="a line longer than"):
        rollup(db, tmp_path, clock=T0.timestamp, chunk_bytes=2048)


def test_helpers_count_segment_after_segment_like_this_process(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(database_url)
    a, b = _stories(db, "daily", 2)
    (c,) = _stories(db, "weekly", 1)
    lines = [encode(record) for record in _mixed_log(a, b, c)]
    segments = tmp_path / "log" / "segments"
    segments.mkdir(parents=True)
    for n in range(4):  # four segments, the second one empty
        (segments / f"2026112{n}.seg").write_bytes(
            b"".join(lines[n * 100 : n * 100 + 100] if n != 1 else [])
        )
    (segments / "20261125.open").write_bytes(b"".join(lines[100:200]))
    clock = T0.timestamp
    assert rollup(db, tmp_path / "log", clock=clock, chunk_bytes=2048).hits == 400
    here = _tables(db)
    _forget_rollups(db)
    monkeypatch.setattr(rollup_module, "HELPER_MIN_BYTES", 0)
    started: list[object] = []
    start = rollup_module._start_helper

    def recording(path: Path, offset: int, chunk_bytes: int) -> object:
        started.append(start(path, offset, chunk_bytes))
        return started[-1]

    monkeypatch.setattr(rollup_module, "_start_helper", recording)
    result = rollup(db, tmp_path / "log", clock=clock, chunk_bytes=2048)
    assert (result.hits, result.segments_read) == (400, 5)
    assert len(started) == 5
    assert all(helper.returncode == 0 for helper in started)  # type: ignore[attr-defined]
    assert _tables(db) == here
    db.dispose()
