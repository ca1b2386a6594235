"""Unique readers: the reader keys a rollup pass meets, checked against the stored ones.

A reader key is a signed 64-bit number per (story, site, visitor hash) and day (see
:func:`republish.store.hits.reader_key`). The stored keys of a day are sorted runs of keys
(``reader_blocks``, one row per run); a pass holds the runs of the days it writes as sorted
numpy arrays, finds the new keys of a chunk with binary searches, and stores them as one
more run. Runs are merged as they are written (each at least twice the size of the next),
so a day has about log2(keys) runs and each key is rewritten about log2 times in all.

Rollups never count a reader twice, also several at once: before it writes a day, a
transaction bumps that day's version in ``reader_days`` (a row lock until it commits) and
reloads the day unless the version is the one its own last write left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from republish.store import hits as store

Keys = npt.NDArray[np.int64]
Groups = npt.NDArray[np.intp]
_KEY = np.dtype("<i8")  # as stored: little-endian signed 64-bit
_TOP = np.uint64(1 << 63)
_HASH_LENGTH = 32  # hex digits of the pixel's visitor hashes


_NOT_HEX = 255
_NIBBLE = np.full(256, _NOT_HEX, dtype=np.uint8)  # ASCII hex digit -> its value
for _value, _digit in enumerate(b"0123456789abcdef"):
    _NIBBLE[_digit] = _NIBBLE[bytes([_digit]).upper()[0]] = _value


def keys_of_many(pairs: npt.NDArray[np.uint64], visitors: Sequence[bytes]) -> Keys:
    """:func:`republish.store.hits.reader_key` of each visitor with the site key at the same
    index of ``pairs``, as an array. The pixel's hashes (32 hex digits) are keyed in a few
    array operations for all of them at once; anything else one by one."""
    count = len(visitors)
    if not count:
        return np.zeros(0, dtype=np.int64)
    if not all(map(_HASH_LENGTH.__eq__, map(len, visitors))):
        scalar = store.reader_key
        return np.fromiter(map(scalar, pairs.tolist(), visitors), np.int64, count)
    text = np.frombuffer(b"".join(visitors), dtype=np.uint8).reshape(count, _HASH_LENGTH)
    digits = _NIBBLE[text[:, :16]]
    head = np.ascontiguousarray((digits[:, 0::2] << 4) | digits[:, 1::2]).view(">u8")
    # (head ^ pair) - 2**63 in 64-bit arithmetic is (head ^ pair ^ 2**63).
    keys: Keys = (head.ravel().astype(np.uint64) ^ pairs ^ _TOP).view(np.int64)
    for index in np.flatnonzero((digits == _NOT_HEX).any(axis=1)).tolist():
        keys[index] = store.reader_key(int(pairs[index]), visitors[index])  # as int() reads it
    return keys


def by_day(
    keys: Keys, groups: Groups, days: npt.NDArray[np.int64]
) -> dict[int, tuple[Keys, Groups]]:
    """The distinct keys of each day (day numbers in ``days``, one per key) and the group
    of each (a reader met on two pages of one site is one key of one group)."""
    found: dict[int, tuple[Keys, Groups]] = {}
    for day in np.unique(days).tolist():
        mine = days == day
        distinct, first = np.unique(keys[mine], return_index=True)
        found[day] = (distinct, groups[mine][first])
    return found


def pack(keys: Keys) -> bytes:
    """A sorted run of keys as stored in ``reader_blocks``."""
    return keys.astype(_KEY, copy=False).tobytes()


def unpack(data: bytes) -> Keys:
    return np.frombuffer(data, dtype=_KEY).astype(np.int64)


def _contains(run: Keys, keys: Keys) -> npt.NDArray[np.bool_]:
    """Which of ``keys`` are in the sorted ``run``."""
    if not len(run):
        return np.zeros(len(keys), dtype=bool)
    at = np.searchsorted(run, keys)
    at[at == len(run)] = 0
    found: npt.NDArray[np.bool_] = run[at] == keys
    return found


@dataclass
class _Day:
    version: int
    runs: list[tuple[int, Keys]] = field(default_factory=list)  # (block, keys), largest first


class KnownReaders:
    """The stored reader keys of the days a rollup writes, mirrored in memory.

    Kept from pass to pass while passes succeed (a day written by another rollup meanwhile
    is read again: its version tells). After a failed transaction it must be dropped: it
    may hold keys that were rolled back.
    """

    def __init__(self) -> None:
        self.days: dict[int, _Day] = {}
        self.recent: set[int] = set()  # the days of the previous chunk

    def _day(self, conn: Any, day: int) -> _Day:
        version = store.lock_reader_day(conn, day)
        known = self.days.get(day)
        if known is None or known.version != version - 1:
            # Not loaded, or another rollup wrote the day since: read it as it is now.
            blocks = store.blocks_of_day(conn, day)
            runs = sorted(((b, unpack(data)) for b, data in blocks), key=lambda r: -len(r[1]))
            known = self.days[day] = _Day(version, runs)
        known.version = version
        return known

    def add(self, conn: Any, readers: dict[int, tuple[Keys, Groups]], groups: int) -> Groups:
        """Store the chunk's reader keys (per day number: distinct keys in order, as
        :func:`by_day` gives them, and the group of each); return how many were new per
        group (an array of ``groups`` counts)."""
        fresh: Groups = np.zeros(groups, dtype=np.intp)
        for day in sorted(readers):  # in one order in every rollup: no deadlock
            keys, group_of = readers[day]
            known = self._day(conn, day)
            new = np.ones(len(keys), dtype=bool)
            for _, run in known.runs:
                new &= ~_contains(run, keys)
            added = keys[new]  # in order, as the keys are
            fresh += np.bincount(group_of[new], minlength=groups)
            if len(added):
                self._write(conn, day, known, added)
        # Keep the days of this chunk and the one before (a log is in time order, more or
        # less); a day met again later is loaded again.
        for day in set(self.days) - set(readers) - self.recent:
            del self.days[day]
        self.recent = set(readers)
        return fresh

    @staticmethod
    def _write(conn: Any, day: int, known: _Day, added: Keys) -> None:
        """Store ``added`` as the day's newest run, merged with the smaller runs before it
        (as in a binary counter) so that the runs stay few."""
        merged: list[int] = []
        while known.runs and len(known.runs[-1][1]) <= 2 * len(added):
            block, run = known.runs.pop()
            merged.append(block)
            added = np.sort(np.concatenate((run, added)), kind="stable")
        # The version is this transaction's own: no other run of the day has that number.
        store.write_reader_block(conn, day, known.version, pack(added), merged)
        known.runs.append((known.version, added))
