"""Check and count hit log lines: the rollup's per-line loop, in a module of its own (the
standard library and :mod:`republish.hits` only) so that a helper process starts fast.

:func:`count_lines` is the compiled loop of ``republish.stats._linecount`` (the C
extension built from ``_linecount.c`` at install) when it imports, else
:func:`count_lines_py`, the same loop in Python; the two give the same results on any input
(tests/test_linecount_native.py holds them equal; the compiled one counts into dicts only,
a Counter being one, and raises TypeError for other mappings). ``COMPILED`` says which one
is in use.

``python -m republish.stats.linecount PATH OFFSET CHUNK_BYTES`` counts the chunks of one
segment from OFFSET on and writes, for each, one pickle of the :class:`Chunk` that
:func:`count_chunks` yields to standard output (read by :mod:`republish.stats.rollup`,
which started it).
"""

from __future__ import annotations

import pickle
import sys
import zlib
from collections import Counter
from collections.abc import Generator
from pathlib import Path
from typing import NamedTuple

from republish.hits import FORMAT_VERSION, Verdict, written

VERSION = FORMAT_VERSION.encode()
HUMAN = Verdict.HUMAN.value.encode()
DAY_MS = 86_400_000

# (story, page, day number, verdict, reason) -> hits
Counts = Counter[tuple[bytes, bytes, int, bytes, bytes]]
# (day number, story, page) -> visitor hashes of human hits
Readers = dict[tuple[int, bytes, bytes], set[bytes]]
# (story, page) -> time of the first or last human hit (ms)
Times = dict[tuple[bytes, bytes], int]
Counted = tuple[Counts, Readers, Times, Times]


def count_lines_py(
    data: bytes, counts: Counts, readers: Readers, first: Times, last: Times
) -> tuple[int, int, int]:
    """Check and count the complete lines of ``data`` in one loop (the hot loop: no
    objects per hit beyond the keys). Lines are checked as :func:`republish.hits.decode`
    checks them (a test holds the two equal). Returns the bytes consumed (up to the last
    newline), the hits counted and the damaged lines skipped. The numbers are read by
    ``int()``, as :func:`republish.hits.decode` reads them (so a time of ``b"+12"`` or a
    CRC of ``b"0x0a1b2c"`` is read, not damaged); the compiled loop reads them alike."""
    end = data.rfind(b"\n") + 1
    count_of = counts.get
    readers_of = readers.get
    crc32 = zlib.crc32
    hits = damaged = 0
    for line in data[:end].split(b"\n")[:-1]:
        body, _, crc = line.rpartition(b"\t")
        try:
            if len(crc) != 8 or crc32(body) != int(crc, 16):
                damaged += 1
                continue
            version, ts, story, verdict, reason, visitor, page = body.split(b"\t")
            ts_ms = int(ts)
        except ValueError:
            damaged += 1
            continue
        if version != VERSION:
            damaged += 1
            continue
        hits += 1
        day = ts_ms // DAY_MS
        key = (story, page, day, verdict, reason)
        counts[key] = count_of(key, 0) + 1
        if verdict == HUMAN:
            if visitor:
                seen = readers_of((day, story, page))
                if seen is None:
                    readers[(day, story, page)] = {visitor}
                else:
                    seen.add(visitor)
            if page:
                pair = (story, page)
                if pair not in first:
                    first[pair] = ts_ms
                last[pair] = ts_ms
    return end, hits, damaged


try:
    from republish.stats._linecount import count_lines as count_lines
except ImportError:  # not built (no C compiler at install): the same loop in Python
    count_lines = count_lines_py
COMPILED = count_lines is not count_lines_py


# Bytes read at once: a chunk is counted from reads of at most this many bytes, so that a
# large chunk does not hold its raw bytes in memory all at once.
READ_BYTES = 8 * 1024 * 1024


class Chunk(NamedTuple):
    """What :func:`count_chunks` gives for each chunk."""

    consumed: int  # bytes of complete lines (where the next chunk starts)
    hits: int
    damaged: int
    more: bool  # the chunk ended at its size: more complete lines may follow
    stuck: bool  # no complete line in a full read: a line longer than the read size
    counted: Counted


def count_chunks(
    path: Path, offset: int, chunk_bytes: int, read_bytes: int = READ_BYTES
) -> Generator[Chunk, None, None]:
    """Count the complete lines of ``path`` from ``offset`` on, in chunks of at most
    ``chunk_bytes`` (each counted from reads of at most ``read_bytes``). The last chunk is
    the first that meets the end of the written data (the end of the file or its first
    NUL byte), or a line longer than a read."""
    read_bytes = min(read_bytes, chunk_bytes)
    with path.open("rb") as handle:
        while True:
            counted: Counted = (Counter(), {}, {}, {})
            consumed = hits = damaged = 0
            more = stuck = False
            while True:
                handle.seek(offset + consumed)
                # An open segment holds zeros ahead of its data (republish.pixel.log).
                data = written(handle.read(read_bytes))
                used, found, bad = count_lines(data, *counted)
                consumed, hits, damaged = consumed + used, hits + found, damaged + bad
                if len(data) < read_bytes:
                    break  # the end of what is written so far
                if used == 0:  # the next chunk starts at that line, and stops there
                    more, stuck = consumed > 0, consumed == 0
                    break
                if consumed + read_bytes > chunk_bytes:
                    more = True
                    break
            yield Chunk(consumed, hits, damaged, more, stuck, counted)
            if not more:
                return
            offset += consumed


def main(argv: list[str]) -> None:
    path, offset, chunk_bytes = Path(argv[0]), int(argv[1]), int(argv[2])
    out = sys.stdout.buffer
    for chunk in count_chunks(path, offset, chunk_bytes):
        # A plain tuple: run as a script, this module is __main__ to pickle.
        pickle.dump(tuple(chunk), out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
