"""Response bodies for :mod:`republish.net`: bounded decompression, media types, charsets."""

from __future__ import annotations

import codecs
import re
import zlib
from collections.abc import Sequence
from typing import Any

_KINDS = {
    "text/html": "an HTML page",
    "application/xhtml+xml": "an HTML page",
    "application/rss+xml": "a feed",
    "application/atom+xml": "a feed",
    "application/feed+json": "a feed",
    "application/xml": "XML",
    "text/xml": "XML",
    "application/json": "JSON",
    "text/plain": "plain text",
}


class Overflow(Exception):
    """Decoded output passed the size budget."""


class UnknownEncoding(Exception):
    """A Content-Encoding we did not ask for and cannot undo."""


class Inflater:
    """Undoes gzip/deflate Content-Encoding without ever producing more than ``max_bytes``.

    zlib's ``max_length`` keeps a bomb (a few KB that inflate to GBs) from being
    expanded in memory at all: output stops one byte past the budget.
    """

    def __init__(self, encoding_header: str, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._produced = 0
        self._stages: list[Any] = []  # zlib's Decompress objects
        codings = [c.strip().lower() for c in encoding_header.split(",") if c.strip()]
        for coding in reversed(codings):  # the last coding applied is undone first
            if coding in {"gzip", "x-gzip"}:
                self._stages.append(zlib.decompressobj(16 + zlib.MAX_WBITS))
            elif coding == "deflate":
                self._stages.append(zlib.decompressobj(zlib.MAX_WBITS))
            elif coding != "identity":
                raise UnknownEncoding(coding)

    def feed(self, data: bytes) -> bytes:
        """Decode the next raw chunk; :class:`Overflow` once the total passes the budget."""
        for stage in self._stages:
            data = self._run(stage, data)
        self._produced += len(data)
        if self._produced > self._max_bytes:
            raise Overflow
        return data

    def _run(self, stage: Any, data: bytes) -> bytes:
        out = bytearray()
        budget = self._max_bytes - self._produced
        while data:
            out += stage.decompress(data, budget - len(out) + 1)
            if len(out) > budget:
                raise Overflow
            data = stage.unconsumed_tail
        return bytes(out)


_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([a-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""\A\s*<\?xml[^>]*?encoding\s*=\s*["']([a-z0-9_.:-]+)""", re.I)
# Labels browsers never honour (UTF-7 has served XSS) or read as another encoding.
_CHARSET_ALIASES: dict[str, str | None] = {
    "utf-7": None,
    "utf7": None,
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "cp1252",
}


def decode_text(content: bytes, charset: str | None = None) -> str:
    """Decode a body: BOM, then ``charset``, then ``<meta>``/XML declaration, else UTF-8.

    Never raises: unknown labels are skipped and undecodable bytes replaced.
    """
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return content[len(bom) :].decode(encoding, "replace")
    head = content[:2048]
    sniffed = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    for candidate in (charset, sniffed.group(1).decode("ascii") if sniffed else None):
        if not candidate:
            continue
        label = _CHARSET_ALIASES.get(candidate.lower(), candidate)
        if label is None:
            continue
        try:
            return content.decode(label, "replace")
        except LookupError:
            continue
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("cp1252", "replace")


def content_type(header: str) -> tuple[str, str | None]:
    """``("text/html", "utf-8")`` from ``"text/html; charset=UTF-8"``; ``("", None)`` if absent."""
    media, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        value = value.strip().strip("\"'")
        if name.strip().lower() == "charset" and value:
            charset = value.lower()
    return media.strip().lower(), charset


def accepted(media: str, accept: Sequence[str]) -> bool:
    """Whether ``media`` is one of ``accept`` (which may hold ``type/*``)."""
    for wanted in accept:
        wanted = wanted.strip().lower()
        if media == wanted or (wanted.endswith("/*") and media.startswith(wanted[:-1])):
            return True
    return False


def describe(accept: Sequence[str]) -> str:
    """What ``accept`` asks for, in words: ``"an HTML page"``."""
    kinds = dict.fromkeys(_KINDS.get(a.strip().lower(), a.strip().lower()) for a in accept)
    return " or ".join(kinds) or "nothing"


def size_text(n_bytes: int) -> str:
    """``"10 MB"`` or ``"1500 bytes"``."""
    mb = 1024 * 1024
    return f"{n_bytes // mb} MB" if n_bytes >= mb and n_bytes % mb == 0 else f"{n_bytes} bytes"
