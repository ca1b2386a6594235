"""The pixel answers the same GIF to everything and records each hit durably."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from republish.hits import (
    DropReason,
    HitRecord,
    Verdict,
    decode,
    encode,
    encode_fields,
    escape,
    read_records,
)
from republish.pixel.app import GIF, PixelApp
from republish.pixel.core import HitCore
from republish.pixel.log import (
    MAX_ZERO_AHEAD_BYTES,
    MIN_ZERO_AHEAD_BYTES,
    SEALED_SUFFIX,
    HitLog,
    data_end,
    seal_orphans,
)
from republish.pixel.salt import DailySalts

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
NOW = datetime(2026, 11, 24, 15, 30, tzinfo=UTC).timestamp()


def _records(log_dir: Path) -> list[HitRecord]:
    records: list[HitRecord] = []
    for path in sorted((log_dir / "segments").iterdir()):
        found, _, damaged = read_records(path.read_bytes())
        assert damaged == 0
        records += found
    return records


@pytest.fixture
def pixel(tmp_path: Path) -> Iterator[PixelApp]:
    yield PixelApp(tmp_path / "hits", clock=lambda: NOW)


async def _get(
    app: PixelApp, path: str, headers: dict[str, str], method: str = "GET"
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://px.test") as client:
        response = await client.request(method, path, headers=headers)
    await app.shutdown()
    return response


REPUBLISHER = "https://www.citypaper.example/news/2026/ferry/?utm_source=x#top"


# (path, request headers, verdict, reason, page URL): shared with the builtin server tests.
CASES = [
    ("/p/k3x9q2m7ab.gif", {"user-agent": CHROME, "referer": REPUBLISHER}, Verdict.HUMAN,
     DropReason.NONE, "https://www.citypaper.example/news/2026/ferry/"),
    ("/p/k3x9q2m7ab.gif", {"user-agent": CHROME}, Verdict.HUMAN, DropReason.NONE, ""),
    ("/p/k3x9q2m7ab.gif", {"user-agent": CHROME, "referer": "https://b.example/"},
     Verdict.HUMAN, DropReason.NONE, "https://b.example/"),
    ("/p/k3x9q2m7ab.gif", {"user-agent": "", "referer": REPUBLISHER}, Verdict.BOT,
     DropReason.NO_USER_AGENT, "https://www.citypaper.example/news/2026/ferry/"),
    ("/p/k3x9q2m7ab.gif", {"user-agent": "Mozilla/5.0 (compatible; Googlebot/2.1; "
     "+http://www.google.com/bot.html)"}, Verdict.BOT, DropReason.BOT_USER_AGENT, ""),
    ("/p/k3x9q2m7ab.gif", {"user-agent": CHROME, "sec-purpose": "prefetch"},
     Verdict.PREFETCH, DropReason.PREFETCH, ""),
    ("/p/k3x9q2m7ab.gif", {"user-agent": CHROME, "purpose": "prefetch"},
     Verdict.PREFETCH, DropReason.PREFETCH, ""),
    ("/p/k3x9q2m7ab.gif", {"user-agent": CHROME, "x-moz": "prefetch"},
     Verdict.PREFETCH, DropReason.PREFETCH, ""),
    ("/p/k3x9q2m7ab.gif", {"user-agent": CHROME,
     "referer": "https://citypaper.example/wp-admin/post.php?post=9&action=edit"},
     Verdict.PREVIEW, DropReason.CMS_PREVIEW, "https://citypaper.example/wp-admin/post.php"),
    ("/p/k3x9q2m7ab.gif", {"user-agent": CHROME,
     "referer": "https://citypaper.example/?p=12&preview=true"},
     Verdict.PREVIEW, DropReason.CMS_PREVIEW, "https://citypaper.example/"),
    ("/p/../../etc/passwd", {"user-agent": CHROME}, Verdict.UNKNOWN_STORY,
     DropReason.MALFORMED, ""),
    ("/p/K3X.gif", {"user-agent": CHROME}, Verdict.UNKNOWN_STORY, DropReason.MALFORMED, ""),
    ("/p/abc.png", {"user-agent": CHROME}, Verdict.UNKNOWN_STORY, DropReason.MALFORMED, ""),
    ("/p/" + "a" * 40 + ".gif", {"user-agent": CHROME}, Verdict.UNKNOWN_STORY,
     DropReason.MALFORMED, ""),
    ("/p/k3x9q2m7ab.gif", {"user-agent": CHROME, "referer": "javascript:alert(1)"},
     Verdict.HUMAN, DropReason.NONE, ""),
]  # fmt: skip
CASE_IDS = [
    "human-full-referer", "human-no-referer", "human-origin-only", "empty-ua", "googlebot",
    "sec-purpose-prefetch", "purpose-prefetch", "x-moz-prefetch", "wp-admin-preview",
    "preview-param", "path-traversal", "uppercase-id", "not-gif", "id-too-long",
    "non-http-referer",
]  # fmt: skip


@pytest.mark.parametrize(("path", "headers", "verdict", "reason", "page"), CASES, ids=CASE_IDS)
def test_pixel_always_answers_gif_and_records(
    pixel: PixelApp,
    path: str,
    headers: dict[str, str],
    verdict: Verdict,
    reason: DropReason,
    page: str,
) -> None:
    response = asyncio.run(_get(pixel, path, headers))
    assert response.status_code == 200
    assert response.content == GIF and len(GIF) == 43
    assert response.headers["content-type"] == "image/gif"
    assert response.headers["cache-control"].startswith("no-store")
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "set-cookie" not in response.headers
    assert response.headers.get("x-republish-dropped", "") == reason.value
    [record] = _records(pixel.log_dir)
    assert (record.verdict, record.reason, record.page_url) == (verdict, reason, page)
    assert record.ts_ms == int(NOW * 1000)
    assert record.story_id == ("k3x9q2m7ab" if reason is not DropReason.MALFORMED else "")
    assert bool(record.visitor) == (verdict is Verdict.HUMAN)
    stored = b"".join(p.read_bytes() for p in (pixel.log_dir / "segments").iterdir())
    assert b"203.0.113.7" not in stored and b"Mozilla" not in stored


def test_head_and_other_methods_get_the_gif(pixel: PixelApp) -> None:
    response = asyncio.run(_get(pixel, "/p/abc.gif", {"user-agent": CHROME}, method="HEAD"))
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == "43"


def test_visitor_hash_is_keyed_daily_and_per_story(tmp_path: Path) -> None:
    salts = DailySalts(tmp_path)
    day = date(2026, 11, 24)
    a = salts.visitor_hash(day, "198.51.100.1", CHROME, "story1")
    assert a == DailySalts(tmp_path).visitor_hash(day, "198.51.100.1", CHROME, "story1")
    assert a != salts.visitor_hash(day, "198.51.100.2", CHROME, "story1")
    assert a != salts.visitor_hash(day, "198.51.100.1", CHROME, "story2")
    assert a != salts.visitor_hash(day + timedelta(days=1), "198.51.100.1", CHROME, "story1")
    assert len(a) == 32 and "198.51" not in a


def test_salts_are_deleted_after_48_hours(tmp_path: Path) -> None:
    salts = DailySalts(tmp_path)
    for offset in range(4):
        salts.salt_for(date(2026, 11, 20) + timedelta(days=offset))
    assert sorted(p.stem for p in tmp_path.glob("*.salt")) == [
        "2026-11-21",
        "2026-11-22",
        "2026-11-23",
    ]
    removed = salts.delete_expired(datetime(2026, 11, 24, 23, 59, tzinfo=UTC))
    assert sorted(p.stem for p in removed) == ["2026-11-21", "2026-11-22"]


def test_client_ip_only_from_the_configured_header(tmp_path: Path) -> None:
    def visitor(app: PixelApp, forwarded: str) -> str:
        headers = {"user-agent": CHROME, "x-forwarded-for": forwarded}
        asyncio.run(_get(app, "/p/abc.gif", headers))
        return _records(app.log_dir)[-1].visitor

    plain = PixelApp(tmp_path / "a", clock=lambda: NOW)
    assert visitor(plain, "1.1.1.1") == visitor(
        PixelApp(tmp_path / "a", clock=lambda: NOW), "2.2.2.2"
    )  # header ignored: the connection's address is used
    trusting = PixelApp(tmp_path / "b", client_ip_header="X-Forwarded-For", clock=lambda: NOW)
    first = visitor(trusting, "9.9.9.9, 1.1.1.1")
    again = visitor(
        PixelApp(tmp_path / "b", client_ip_header="X-Forwarded-For", clock=lambda: NOW),
        "8.8.8.8, 1.1.1.1",
    )
    other = visitor(
        PixelApp(tmp_path / "b", client_ip_header="X-Forwarded-For", clock=lambda: NOW),
        "1.1.1.1, 2.2.2.2",
    )
    assert first == again != other


def test_record_format_detects_damage() -> None:
    record = HitRecord(1, "abc", Verdict.HUMAN, DropReason.NONE, "ff", "https://a.example/\tx")
    line = encode(record)
    assert decode(line) == record.__class__(
        1, "abc", Verdict.HUMAN, DropReason.NONE, "ff", "https://a.example/%09x"
    )
    assert decode(line.replace(b"abc", b"abd")) is None
    assert decode(b"garbage") is None
    records, consumed, damaged = read_records(line + line[:10])
    assert (len(records), consumed, damaged) == (1, len(line), 0)
    # The zeros ahead of an open segment's data end it, also when a line follows them.
    records, consumed, damaged = read_records(line + bytes(100) + line)
    assert (len(records), consumed, damaged) == (1, len(line), 0)


def test_no_line_holds_a_nul_byte() -> None:
    """A NUL marks the end of a segment's data, so none may come from a field."""
    record = HitRecord(1, "a\0b", Verdict.HUMAN, DropReason.NONE, "f\0f", "https://a.example/\0")
    line = encode(record)
    assert b"\0" not in line
    assert decode(line) == HitRecord(
        1, "a%00b", Verdict.HUMAN, DropReason.NONE, "f%00f", "https://a.example/%00"
    )
    assert b"\0" not in escape("https://a.example/\0x")


def test_open_segment_holds_zeros_ahead_and_sealing_cuts_them(tmp_path: Path) -> None:
    """Lines go into space zeroed ahead (no size change per sync); the sealed segment is
    exactly its lines. The zeros grow with the segment, from 64 KiB to 4 MiB ahead."""
    line = encode(HitRecord(1, "abc", Verdict.HUMAN, DropReason.NONE, "ff", "https://a.example/"))

    async def run() -> list[tuple[int, int]]:
        log = HitLog(tmp_path)
        seen = []
        for count in (1, 10, 1000, 40000):
            await asyncio.gather(*(log.append(line) for _ in range(count)))
            [segment] = list(tmp_path.iterdir())
            seen.append((data_end(segment), segment.stat().st_size))
        await log.aclose()
        return seen

    seen = asyncio.run(run())
    written = 0
    for (end, size), count in zip(seen, (1, 10, 1000, 40000), strict=True):
        written += count * len(line)
        assert end == written  # the first NUL is right after the data
        assert MIN_ZERO_AHEAD_BYTES // 2 <= size - end <= MAX_ZERO_AHEAD_BYTES
    assert seen[0][1] - seen[0][0] < 2 * MIN_ZERO_AHEAD_BYTES  # an idle segment stays small
    [segment] = list(tmp_path.iterdir())
    assert segment.suffix == SEALED_SUFFIX
    assert segment.read_bytes() == line * 41011


def test_group_commit_batches_concurrent_appends(tmp_path: Path) -> None:
    async def run() -> HitLog:
        log = HitLog(tmp_path)
        line = encode(HitRecord(1, "abc", Verdict.HUMAN, DropReason.NONE, "", ""))
        await asyncio.gather(*(log.append(line) for _ in range(500)))
        await log.aclose()
        return log

    log = asyncio.run(run())
    assert log.written == 500
    [segment] = list(tmp_path.iterdir())
    assert segment.suffix == SEALED_SUFFIX
    assert len(read_records(segment.read_bytes())[0]) == 500


def test_orphaned_segments_of_dead_processes_are_sealed(tmp_path: Path) -> None:
    from republish.pixel.log import host_tag

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    orphan = tmp_path / f"20261124T000000-{host_tag()}-{pid}-000001.open"
    orphan.write_bytes(b"x\n" + bytes(MIN_ZERO_AHEAD_BYTES))  # its zeros are cut off
    other_host = tmp_path / f"20261124T000000-elsewhere-{pid}-000001.open"
    other_host.write_bytes(b"x")
    assert seal_orphans(tmp_path) == [orphan.with_suffix(SEALED_SUFFIX)]
    assert orphan.with_suffix(SEALED_SUFFIX).read_bytes() == b"x\n"
    assert other_host.exists()


def test_pixel_import_pulls_in_no_web_layer_template_or_db_driver() -> None:
    code = (
        "import sys, republish.pixel.app\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "{'starlette','jinja2','sqlalchemy','psycopg','sqlite3','alembic','_sqlite3'} "
        "or m.startswith('republish.web') or m.startswith('republish.store')]\n"
        "print(','.join(sorted(bad)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


@pytest.mark.parametrize(
    "record",
    [
        HitRecord(1, "abc", Verdict.HUMAN, DropReason.NONE, "ff" * 16, "https://a.example/x"),
        HitRecord(2, "", Verdict.UNKNOWN_STORY, DropReason.MALFORMED, "", ""),
        HitRecord(3, "k3x", Verdict.PREFETCH, DropReason.PREFETCH, "", "https://é.example/\ta\n"),
        HitRecord(4, "k3x", Verdict.BOT, DropReason.NO_USER_AGENT, "", "http://b.example/"),
    ],
    ids=["human", "malformed", "escaped-page", "bot"],
)
def test_fast_line_encoding_writes_the_same_line(record: HitRecord) -> None:
    fast = encode_fields(
        record.ts_ms,
        record.story_id.encode(),
        record.verdict,
        record.reason,
        record.visitor.encode(),
        escape(record.page_url),
    )
    assert fast == encode(record)
    assert decode(fast) is not None


def test_core_hashes_visitors_like_the_daily_salts(tmp_path: Path) -> None:
    core = HitCore(tmp_path, clock=lambda: NOW)
    headers = {b"user-agent": CHROME.encode(), b"referer": REPUBLISHER.encode()}
    first, reason = core.hit("/p/story1.gif", headers, "198.51.100.1")
    again, _ = core.hit("/p/story1.gif", dict(headers), "198.51.100.1")  # from the caches
    record = decode(first)
    assert record is not None and reason is DropReason.NONE and first == again
    day = datetime.fromtimestamp(NOW, UTC).date()
    assert record.visitor == DailySalts(tmp_path / "salts").visitor_hash(
        day, "198.51.100.1", CHROME, "story1"
    )
    assert record.page_url == "https://www.citypaper.example/news/2026/ferry/"
