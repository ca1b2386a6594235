"""The pixel: a tiny raw ASGI app answering ``GET|HEAD /p/{story_id}.gif``.

Per request: cut the story id from the path, classify the request from its headers,
append one record to the durable hit log, then answer the same 43-byte GIF. Always the
GIF, always 200, also for unknown stories and malformed requests; the reason a hit is
not a human view goes in ``X-Republish-Dropped``. No database, templates or sessions
here: this module must import neither the web layer, a template engine nor a DB driver.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from republish.config import Settings
from republish.hits import DropReason, HitRecord, Verdict, encode
from republish.pixel.bots import BotFilter, default_filter
from republish.pixel.classify import classify
from republish.pixel.log import HitLog, seal_orphans
from republish.pixel.salt import DailySalts
from republish.urls import page_url

logger = logging.getLogger("republish.pixel")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# GIF: the smallest valid image, one transparent pixel (43 bytes).
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
PREFIX = "/p/"
_STORY_PATH = re.compile(r"^/p/([0-9a-z]{1,32})\.gif$")
_BASE_HEADERS = [
    (b"content-type", b"image/gif"),
    (b"content-length", str(len(GIF)).encode()),
    (b"cache-control", b"no-store, max-age=0"),
    (b"cross-origin-resource-policy", b"cross-origin"),
    (b"x-content-type-options", b"nosniff"),
]


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return ""


class PixelApp:
    """The pixel as an ASGI app; ``await app.startup()`` / ``await app.shutdown()`` when
    mounted inside another app (standalone, it handles the lifespan itself)."""

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
        self.salts = DailySalts(log_dir / "salts")
        self.client_ip_header = client_ip_header.lower().encode("latin-1")
        self.bots = bots or default_filter()
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> PixelApp:
        """The pixel configured by ``settings`` (hit log directory, client IP header)."""
        return cls(Path(settings.hit_log_dir), client_ip_header=settings.client_ip_header)

    async def startup(self) -> None:
        """Seal segments left open by crashed processes of this machine."""
        (self.log_dir / "segments").mkdir(parents=True, exist_ok=True)
        sealed = seal_orphans(self.log_dir / "segments")
        if sealed:
            logger.info("sealed %d hit log segments of stopped processes", len(sealed))

    async def shutdown(self) -> None:
        """Make every pending hit durable and seal the segment."""
        await self.log.aclose()

    def _client_ip(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> str:
        if self.client_ip_header:
            forwarded = _header(headers, self.client_ip_header)
            if forwarded:
                return forwarded.rsplit(",", 1)[-1].strip()
        client = scope.get("client")
        return str(client[0]) if client else ""

    def record_for(self, scope: Scope) -> HitRecord:
        """Classify one request and build its record (no raw IP or User-Agent in it)."""
        now = self.clock()
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        match = _STORY_PATH.match(scope.get("path", ""))
        referer = _header(headers, b"referer")
        page = page_url(referer)
        if match is None:
            return HitRecord(
                int(now * 1000), "", Verdict.UNKNOWN_STORY, DropReason.MALFORMED, "", page
            )
        story_id = match.group(1)
        user_agent = _header(headers, b"user-agent")
        verdict, reason = classify(
            user_agent,
            referer,
            _header(headers, b"sec-purpose"),
            _header(headers, b"purpose"),
            _header(headers, b"x-moz"),
            self.bots.is_bot(user_agent),
        )
        visitor = ""
        if verdict is Verdict.HUMAN:
            day = datetime.fromtimestamp(now, UTC).date()
            visitor = self.salts.visitor_hash(
                day, self._client_ip(scope, headers), user_agent, story_id
            )
        return HitRecord(int(now * 1000), story_id, verdict, reason, visitor, page)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = list(_BASE_HEADERS)
        try:
            record = self.record_for(scope)
            if record.reason is not DropReason.NONE:
                headers.append((b"x-republish-dropped", record.reason.value.encode()))
            await self.log.append(encode(record))
        except Exception:  # the pixel always answers; the failure is logged
            logger.exception("hit not recorded")
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        body = b"" if scope.get("method") == "HEAD" else GIF
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_pixel_app(settings: Settings) -> PixelApp:
    """The standalone pixel app for ``settings`` (serve it with any ASGI server)."""
    return PixelApp.from_settings(settings)
