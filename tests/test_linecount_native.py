"""The compiled check-and-count loop (``republish.stats._linecount``) against its
pure-Python twin (``linecount.count_lines_py``): the same results on real and damaged logs."""

from __future__ import annotations

import gc
import os
import random
import tracemalloc
import zlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from republish.hits import DropReason, HitRecord, Verdict, decode, encode
from republish.stats import linecount

try:
    from republish.stats import _linecount
except ImportError:  # pragma: no cover - depends on the build
    _linecount = None  # type: ignore[assignment]

DAY_MS = 86_400_000
T0 = 1_790_000_000_000  # late 2026, in ms

needs_native = pytest.mark.skipif(
    _linecount is None,
    reason="republish.stats._linecount is not built (no C compiler at install?); "
    "the pure-Python loop is in use",
)

Counted = tuple[tuple[int, int, int], Counter[Any], dict[Any, Any], dict[Any, Any], dict[Any, Any]]


def _run(fn: Callable[..., tuple[int, int, int]], data: bytes, *state: Any) -> Counted:
    counts, readers, first, last = state or (Counter(), {}, {}, {})
    result = fn(data, counts, readers, first, last)
    return result, counts, readers, first, last


def _same(data: bytes) -> Counted:
    """Both loops over ``data``: asserts they agree (also on dict order), returns one."""
    assert _linecount is not None
    native = _run(_linecount.count_lines, data)
    python = _run(linecount.count_lines_py, data)
    assert native == python
    for a, b in zip(native[1:], python[1:], strict=True):
        assert list(a) == list(b)  # same insertion order too
    return native


def _records(rng: random.Random, n: int) -> list[HitRecord]:
    stories = [f"s{i:05d}" for i in range(40)] + ["", "ünïcode-story", "a\tb"]
    pages = [
        "",
        "https://a.example/x",
        "https://b.example/2026/story-one",
        "https://例え.jp/ページ?q=1",
        "https://c.example/with\ttab\nand newline",
        "https://d.example/" + "long/" * 40,
    ] + [f"https://site{i}.example/p{i}" for i in range(30)]
    visitors = ["", *(f"{rng.getrandbits(64):016x}" for _ in range(60))]
    records = []
    for _ in range(n):
        verdict = rng.choice(list(Verdict))
        reason = rng.choice(list(DropReason))
        if verdict is Verdict.HUMAN and rng.random() < 0.8:
            reason = DropReason.NONE
        records.append(
            HitRecord(
                T0 + rng.randrange(-3 * DAY_MS, 40 * DAY_MS),
                rng.choice(stories),
                verdict,
                reason,
                rng.choice(visitors),
                rng.choice(pages),
            )
        )
    return records


def _log(rng: random.Random, n: int) -> bytes:
    return b"".join(encode(r) for r in _records(rng, n))


def _signed(body: bytes) -> bytes:
    return b"%s\t%08x\n" % (body, zlib.crc32(body))


@needs_native
def test_logs_of_the_real_writer_count_alike() -> None:
    rng = random.Random(1)
    for n in (1, 10, 500, 5000):
        result, counts, readers, first, last = _same(_log(rng, n))
        assert result[1] == n and result[2] == 0
        assert sum(counts.values()) == n
        if n >= 500:
            assert readers and first and last  # the human paths were taken


@needs_native
def test_the_loops_agree_with_the_reference_decoder() -> None:
    data = _log(random.Random(2), 300)
    result, counts, readers, first, last = _same(data)
    expected: Counter[Any] = Counter()
    for line in data.splitlines(keepends=True):
        r = decode(line)
        assert r is not None
        key = (
            r.story_id.encode(),
            r.page_url.encode(),
            r.ts_ms // DAY_MS,
            r.verdict.value.encode(),
            r.reason.value.encode(),
        )
        expected[key] += 1
    assert counts == expected  # decode() unescapes nothing: its fields are the stored ones
    assert result == (len(data), 300, 0)


def _damaged_lines(rng: random.Random) -> list[bytes]:
    good = [encode(r) for r in _records(rng, 50)]
    line = good[0]
    body = line.rsplit(b"\t", 1)[0]
    fields = body.split(b"\t")
    out = [
        line[:-5] + b"\n",  # truncated CRC
        line[:20] + b"\n",  # truncated line
        body + b"\t" + b"%07x" % zlib.crc32(body) + b"\n",  # CRC of 7 digits
        body + b"\t" + b"%09x" % zlib.crc32(body) + b"\n",  # CRC of 9 digits
        body + b"\t00000000\n",  # wrong CRC
        b"%s\t%08X\n" % (body, zlib.crc32(body)),  # upper-case CRC: int(x, 16) reads it
        b"%s\t0x%06x\n" % (body, zlib.crc32(body) & 0xFFFFFF),  # "0x" prefix (CRC mismatch)
        _signed(body + b"\textra"),  # 8 fields
        _signed(b"\t".join(fields[:6])),  # 6 fields
        _signed(b"\t".join([b"2", *fields[1:]])),  # another version
        _signed(b"\t".join([b"", *fields[1:]])),  # empty version
        _signed(b"\t".join([b"1 ", *fields[1:]])),  # version with a blank
        b"\n",
        b"\t\n",
        b"00000000\n",  # no tab; CRC of b"" is 0: passes the CRC, then too few fields
        b"\t\t\t\t\t\t\t00000000\n",
        b"garbage\n",
        b"\xff\xfe\x00\x01\n",
        _signed(b"\xff\xfe"),
        _signed(b"1\t\t\t\t\t\t"),  # empty time
        _signed(b"1\t12\t\t\t\t\t"),  # all-empty fields, a time
        _signed(b"1\t12\ts\thuman\t\tv\tp"),
        _signed(b"1\t12\ts\thuman\t\t\t"),  # human without visitor and page
        _signed(b"1\t12\ts\thuman\t\tv\t"),  # human without page
        _signed(b"1\t12\ts\thuman\t\t\tp"),  # human without visitor
        _signed(b"1\t12\ts\tHUMAN\t\tv\tp"),  # not the human verdict
        _signed(b"1\t12\ts\thumans\t\tv\tp"),
        _signed(b"1\t-5\ts\thuman\t\tv\tp"),  # negative time: day -1
        _signed(b"1\t-86400000\ts\thuman\t\tv\tp"),
        _signed(b"1\t+12\ts\thuman\t\tv\tp"),  # what int() takes...
        _signed(b"1\t 12 \ts\thuman\t\tv\tp"),
        _signed(b"1\t1_000\ts\thuman\t\tv\tp"),
        _signed(b"1\t0012\ts\thuman\t\tv\tp"),
        _signed(b"1\t999999999999999999\ts\thuman\t\tv\tp"),  # 18 digits
        _signed(b"1\t9999999999999999999\ts\thuman\t\tv\tp"),  # 19 digits
        _signed(b"1\t123456789012345678901234567890\ts\thuman\t\tv\tp"),
        _signed(b"1\t" + b"9" * 5000 + b"\ts\thuman\t\tv\tp"),  # over int()'s digit limit
        _signed(b"1\t12.0\ts\thuman\t\tv\tp"),  # ...and what it does not
        _signed(b"1\t1__0\ts\thuman\t\tv\tp"),
        _signed(b"1\t0x10\ts\thuman\t\tv\tp"),
        _signed(b"1\t\xd9\xa1\ts\thuman\t\tv\tp"),  # Arabic-Indic digit one
        _signed(b"1\t12\r\ts\thuman\t\tv\tp\r"),  # carriage returns are field bytes
        _signed(b"1\t12\ts\thuman\t\tv\t" + b"p" * 200_000),  # a huge line
    ]
    for _ in range(300):  # flipped bits in good lines
        chosen = bytearray(rng.choice(good))
        at = rng.randrange(len(chosen) - 1)
        chosen[at] ^= 1 << rng.randrange(8)
        out.append(bytes(chosen))
    return good + out


@needs_native
def test_damaged_input_counts_alike() -> None:
    rng = random.Random(3)
    lines = _damaged_lines(rng)
    result, counts, readers, first, last = _same(b"".join(lines))
    assert result[2] > 30  # most of the damage was seen as such
    for line in lines:  # one by one too, so that each line's verdict is compared
        _same(line)
        _same(line.rstrip(b"\n"))  # a partial line: nothing consumed
    for _ in range(200):  # and in shuffled runs, with trailing partial lines
        picked = rng.sample(lines, 8)
        data = b"".join(picked)
        _same(data + picked[0][: rng.randrange(len(picked[0]))])
    for data in (b"", b"\n", b"\n" * 1000, b"x", b"\t" * 10, b"\n\n\t\n"):
        assert _same(data)[0] == (data.rfind(b"\n") + 1, 0, data.count(b"\n"))


@needs_native
def test_cut_anywhere_counts_alike() -> None:
    data = _log(random.Random(4), 40)
    for cut in range(len(data) + 1):
        _same(data[:cut])
        _same(data[cut:])


@needs_native
def test_counts_accumulate_across_calls_alike() -> None:
    assert _linecount is not None
    rng = random.Random(5)
    parts = [_log(rng, 300) for _ in range(5)]
    parts.append(b"".join(_damaged_lines(rng)))
    native: tuple[Any, ...] = (Counter(), {}, {}, {})
    python: tuple[Any, ...] = (Counter(), {}, {}, {})
    for part in parts:
        assert (
            _run(_linecount.count_lines, part, *native)[0]
            == _run(linecount.count_lines_py, part, *python)[0]
        )
        assert native == python
    # what was there before the calls is kept and added to
    counts, readers, first, last = native
    assert sum(counts.values()) > 1500
    big_count = (b"s", b"p", 0, b"human", b"")
    state: tuple[Any, ...] = (
        Counter({big_count: 2**70, (b"s", b"p", 0, b"bot", b""): 5}),
        {(0, b"s", b"p"): {b"w"}},
        {(b"s", b"p"): 7},
        {(b"s", b"p"): 8},
    )
    line = _signed(b"1\t12\ts\thuman\t\tv\tp") + _signed(b"1\t13\ts\tbot\t\t\tp")
    results = []
    for fn in (_linecount.count_lines, linecount.count_lines_py):
        copy = (Counter(state[0]), {k: set(v) for k, v in state[1].items()}, *map(dict, state[2:]))
        results.append(_run(fn, line, *copy))
    assert results[0] == results[1]
    _, counts, readers, first, last = results[0]
    assert counts[big_count] == 2**70 + 1
    assert readers == {(0, b"s", b"p"): {b"w", b"v"}}
    assert (first, last) == ({(b"s", b"p"): 7}, {(b"s", b"p"): 12})


@needs_native
def test_the_compiled_loop_is_the_one_in_use() -> None:
    assert linecount.COMPILED
    assert _linecount is not None
    assert linecount.count_lines is _linecount.count_lines


def test_the_extension_is_built_in_ci() -> None:
    if _linecount is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("republish.stats._linecount did not build; CI must have it")
        pytest.skip("republish.stats._linecount is not built here; the Python loop is in use")
    assert linecount.COMPILED


@needs_native
def test_arguments_by_name() -> None:
    assert _linecount is not None
    data = _log(random.Random(7), 50)
    by_name = _linecount.count_lines(data=data, counts=Counter(), readers={}, first={}, last={})
    assert by_name == linecount.count_lines_py(data, Counter(), {}, {}, {})


@needs_native
def test_wrong_arguments_raise_instead_of_crashing() -> None:
    assert _linecount is not None
    with pytest.raises(TypeError):
        _linecount.count_lines("text", Counter(), {}, {}, {})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _linecount.count_lines(b"", [], {}, {}, {})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _linecount.count_lines(b"")  # type: ignore[call-arg]


@needs_native
def test_no_memory_grows_over_many_calls() -> None:
    """References dropped right: many calls over the same log leave the memory flat.

    Measured with tracemalloc, which sees every Python object and every PyMem block the
    extension allocates, rather than the process's RSS: under AddressSanitizer
    (scripts/sanitize) RSS keeps growing while the quarantine of freed memory fills, in
    steps no warm-up reliably outlasts.
    """
    assert _linecount is not None
    rng = random.Random(6)
    data = _log(rng, 2000) + b"".join(_damaged_lines(rng))
    kept: tuple[Any, ...] = (Counter(), {}, {}, {})

    def calls(times: int) -> None:
        for _ in range(times):
            _run(_linecount.count_lines, data)
            _run(_linecount.count_lines, data, *kept)  # accumulating into the same dicts

    calls(1)
    # Counts past the small-int cache, so that each increment frees one int as it makes one.
    for key in kept[0]:
        kept[0][key] += 1000
    tracemalloc.start()
    try:
        calls(20)  # caches fill
        gc.collect()
        before, _ = tracemalloc.get_traced_memory()
        calls(400)
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    grown = after - before
    # One leaked reference per call would keep 800 objects (25 kB or more) alive.
    assert grown < 8 * 1024, f"traced memory grew by {grown} bytes over 800 calls"
