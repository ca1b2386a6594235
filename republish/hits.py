"""The hit record and its on-disk line format, shared by the pixel (writer) and the rollup
(reader). Stdlib only: the pixel imports this on its hot path.

One hit is one line of tab-separated fields ending in a CRC-32 of the rest, so a torn
write (a crash mid-line) is recognised and skipped rather than misread::

    1<TAB>ts_ms<TAB>story<TAB>verdict<TAB>reason<TAB>visitor<TAB>page_url<TAB>crc32hex\\n

A line never holds a NUL byte: the writer zeroes a segment's space ahead of the data (see
:mod:`republish.pixel.log`), so the first NUL marks the end of what has been written.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from enum import StrEnum

FORMAT_VERSION = "1"


class Verdict(StrEnum):
    """What a hit was. Only ``human`` hits count as views; the rest are kept as counts."""

    HUMAN = "human"
    BOT = "bot"
    PREFETCH = "prefetch"
    PREVIEW = "preview"
    UNKNOWN_STORY = "unknown"


class DropReason(StrEnum):
    """Why a hit is not a human view (closed set; sent as ``X-Republish-Dropped``)."""

    NONE = ""
    BOT_USER_AGENT = "bot-user-agent"
    NO_USER_AGENT = "no-user-agent"
    PREFETCH = "prefetch"
    CMS_PREVIEW = "cms-preview"
    OWN_SITE = "own-site"
    UNKNOWN_STORY = "unknown-story"
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class HitRecord:
    """One load of the pixel, as stored: no IP address, no User-Agent."""

    ts_ms: int
    story_id: str
    verdict: Verdict
    reason: DropReason
    visitor: str  # keyed hash (hex) of daily salt + IP + UA + story; "" when not computed
    page_url: str  # scheme://host/path of the republishing page, "" when unknown


_FORBIDDEN = str.maketrans({"\t": "%09", "\n": "%0A", "\r": "%0D", "\0": "%00"})


def encode(record: HitRecord) -> bytes:
    """One log line for ``record`` (tabs, newlines and NULs inside fields are escaped)."""
    body = "\t".join(
        (
            FORMAT_VERSION,
            str(record.ts_ms),
            record.story_id.translate(_FORBIDDEN),
            record.verdict.value,
            record.reason.value,
            record.visitor.translate(_FORBIDDEN),
            record.page_url.translate(_FORBIDDEN),
        )
    ).encode("utf-8", "replace")
    return b"%s\t%08x\n" % (body, zlib.crc32(body))


def escape(text: str) -> bytes:
    """A free-text field (page URL) as it is stored: tabs, newlines and NULs escaped, UTF-8."""
    return text.translate(_FORBIDDEN).encode("utf-8", "replace")


def encode_fields(
    ts_ms: int, story_id: bytes, verdict: Verdict, reason: DropReason, visitor: bytes, page: bytes
) -> bytes:
    """The same line as :func:`encode`, from fields already in stored form (``story_id``
    and ``visitor`` plain ASCII, ``page`` from :func:`escape`): the pixel's fast path."""
    body = b"1\t%d\t%b\t%b\t%b\t%b\t%b" % (
        ts_ms,
        story_id,
        verdict.encode(),
        reason.encode(),
        visitor,
        page,
    )
    return b"%b\t%08x\n" % (body, zlib.crc32(body))


assert FORMAT_VERSION == "1"  # encode_fields writes it as a literal


def decode(line: bytes) -> HitRecord | None:
    """The record in one line (without or with its newline), or None if it is damaged."""
    line = line.rstrip(b"\n")
    body, sep, crc = line.rpartition(b"\t")
    if not sep or len(crc) != 8:
        return None
    try:
        if int(crc, 16) != zlib.crc32(body):
            return None
        version, ts_ms, story, verdict, reason, visitor, page_url = body.decode("utf-8").split("\t")
        if version != FORMAT_VERSION:
            return None
        return HitRecord(int(ts_ms), story, Verdict(verdict), DropReason(reason), visitor, page_url)
    except ValueError:
        return None


def written(data: bytes) -> bytes:
    """``data`` up to its first NUL byte: what is written of a segment, without the zeros
    ahead of its data."""
    end = data.find(b"\0")
    return data if end < 0 else data[:end]


def read_records(data: bytes) -> tuple[list[HitRecord], int, int]:
    """Decode every complete line in ``data``.

    Returns the records, the number of bytes consumed (up to the last newline; a trailing
    partial line is left for the next read) and the number of damaged lines skipped. The
    data ends at its first NUL byte, if any (the zeros ahead of an open segment's data).
    """
    end = written(data).rfind(b"\n") + 1
    records: list[HitRecord] = []
    damaged = 0
    for line in data[:end].splitlines():
        record = decode(line)
        if record is None:
            damaged += 1
        else:
            records.append(record)
    return records, end, damaged
