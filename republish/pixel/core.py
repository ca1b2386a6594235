"""The work every pixel server shares for one hit: classify the request and build its
log line. The ASGI app and the dedicated HTTP server both call :meth:`HitCore.hit`.

Kept cheap because it runs once per request: the Referer is parsed once and its page URL
and CMS-preview verdict are cached per Referer; the User-Agent's verdict is cached per
User-Agent; the day comes from the integer timestamp; the visitor hash copies a BLAKE2b
state already keyed with the day's salt; the line is built from bytes.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Self

from republish.config import Settings
from republish.hits import DropReason, Verdict, encode_fields, escape
from republish.pixel.bots import BotFilter, default_filter
from republish.pixel.classify import classify, is_cms_preview, is_prefetch, user_agent_reason
from republish.pixel.log import HitLog, seal_orphans
from republish.pixel.salt import DailySalts
from republish.urls import page_url

__all__ = ["HEADERS", "STORY_PATH", "HitCore", "PixelFront", "referer_facts"]

logger = logging.getLogger("republish.pixel")

STORY_PATH = re.compile(r"^/p/([0-9a-z]{1,32})\.gif\Z")  # \Z: no newline after .gif
# The request headers a hit is classified by (lower-case), besides the client IP header.
HEADERS = frozenset({b"user-agent", b"referer", b"sec-purpose", b"purpose", b"x-moz"})
_PREFETCH_HEADERS = (b"sec-purpose", b"purpose", b"x-moz")
CACHE_SIZE = 4096
MAX_CACHED_CHARS = 2048  # longer Referers and User-Agents are worked out every time
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_NO_PAGE = (b"", False)
# Looked up once: reading an enum member off its class costs about a microsecond in 3.11.
_HUMAN = Verdict.HUMAN
_UNKNOWN_STORY = Verdict.UNKNOWN_STORY
_MALFORMED = DropReason.MALFORMED


def _referer_facts(referer: bytes) -> tuple[bytes, bool]:
    text = referer.decode("latin-1")
    return escape(page_url(text)), is_cms_preview(text)


_cached_referer_facts = functools.lru_cache(maxsize=CACHE_SIZE)(_referer_facts)


def referer_facts(referer: bytes) -> tuple[bytes, bool]:
    """The page URL (stored form) and whether it is a CMS preview, for a raw Referer."""
    if len(referer) > MAX_CACHED_CHARS:
        return _referer_facts(referer)
    return _cached_referer_facts(referer)


class HitCore:
    """Classifies pixel requests and builds their log lines (no raw IP or UA in them)."""

    def __init__(
        self,
        log_dir: Path,
        *,
        client_ip_header: str = "",
        bots: BotFilter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.salts = DailySalts(log_dir / "salts")
        self.client_ip_header = client_ip_header.lower().encode("latin-1")
        self.header_names = HEADERS | {self.client_ip_header} if client_ip_header else HEADERS
        self.bots = bots or default_filter()
        self.clock = clock
        self._day = -1
        self._keyed = hashlib.blake2b()
        self._cached_ua = functools.lru_cache(maxsize=CACHE_SIZE)(self.ua_facts)

    def ua_facts(self, raw: bytes) -> tuple[DropReason, bytes]:
        """What a raw User-Agent says (its drop reason) and its bytes as hashed (uncached)."""
        user_agent = raw.decode("latin-1")
        return user_agent_reason(user_agent, self.bots.is_bot), user_agent.encode(
            "utf-8", "replace"
        )

    def _keyed_for(self, day: int) -> hashlib.blake2b:
        if day != self._day:
            self._keyed = self.salts.keyed(date.fromordinal(_EPOCH_ORDINAL + day))
            self._day = day
        return self._keyed

    def hit(self, path: str, headers: Mapping[bytes, bytes], peer: str) -> tuple[bytes, DropReason]:
        """The log line and drop reason for a request to ``path`` (percent-decoded, no
        query) with ``headers`` (lower-case names, at least :attr:`header_names`) from
        the connection's address ``peer``."""
        now = self.clock()
        ts_ms = int(now * 1000)
        referer = headers.get(b"referer")
        page, preview = referer_facts(referer) if referer else _NO_PAGE
        match = STORY_PATH.match(path)
        if match is None:
            return encode_fields(ts_ms, b"", _UNKNOWN_STORY, _MALFORMED, b"", page), _MALFORMED
        story = match.group(1).encode()
        raw_ua = headers.get(b"user-agent", b"")
        if len(raw_ua) > MAX_CACHED_CHARS:
            ua_reason, ua_bytes = self.ua_facts(raw_ua)
        else:
            ua_reason, ua_bytes = self._cached_ua(raw_ua)
        prefetch = False
        for name in _PREFETCH_HEADERS:
            if name in headers:
                prefetch = is_prefetch(
                    *(headers.get(n, b"").decode("latin-1") for n in _PREFETCH_HEADERS)
                )
                break
        verdict, reason = classify(ua_reason, prefetch, preview)
        visitor = b""
        if verdict is _HUMAN:
            ip = peer.encode("utf-8", "replace")
            if self.client_ip_header:
                forwarded = headers.get(self.client_ip_header)
                if forwarded:
                    ip = forwarded.decode("latin-1").rsplit(",", 1)[-1].strip().encode()
            hasher = self._keyed_for(int(now) // 86400).copy()
            hasher.update(b"%b\x00%b\x00%b" % (ip, ua_bytes, story))
            visitor = hasher.hexdigest().encode()
        return encode_fields(ts_ms, story, verdict, reason, visitor, page), reason


class PixelFront:
    """What every pixel server holds: the durable hit log and the per-hit core.

    The ASGI app, the RSGI app, the builtin HTTP server and the compiled front extend
    it; what one adds is made in :meth:`_prepare`, so they need no constructor of their
    own (the compiled front has one: it takes an idle timeout too).
    """

    def __init__(
        self,
        log_dir: Path,
        *,
        client_ip_header: str = "",
        bots: BotFilter | None = None,
        clock: Callable[[], float] = time.time,
        sync: bool = True,
    ) -> None:
        self.log_dir = log_dir
        self.log = HitLog(log_dir / "segments", sync=sync)
        self.core = HitCore(log_dir, client_ip_header=client_ip_header, bots=bots, clock=clock)
        self._prepare()

    def _prepare(self) -> None:
        """What a server adds to the front, once the log and the core exist."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The pixel configured by ``settings`` (hit log directory, client IP header)."""
        return cls(Path(settings.hit_log_dir), client_ip_header=settings.client_ip_header)

    def seal_orphans(self) -> list[Path]:
        """Seal segments left open by stopped or crashed processes of this machine."""
        segments = self.log_dir / "segments"
        segments.mkdir(parents=True, exist_ok=True)
        sealed = seal_orphans(segments)
        if sealed:
            logger.info("sealed %d hit log segments of stopped processes", len(sealed))
        return sealed
