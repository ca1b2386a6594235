"""The pixel: a tiny raw ASGI app answering ``GET|HEAD /p/{story_id}.gif``.

Per request: classify the request and build its log line (:class:`HitCore`, shared with
the dedicated server in :mod:`republish.pixel.server`), append the line to the durable hit
log, then answer the same 43-byte GIF. Always the
GIF, always 200, also for unknown stories and malformed requests; the reason a hit is
not a human view goes in ``X-Republish-Dropped``. No database, templates or sessions
here: this module must import neither the web layer, a template engine nor a DB driver.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from republish.config import Settings
from republish.hits import DropReason
from republish.pixel.core import STORY_PATH, PixelFront

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
_NONE = DropReason.NONE  # enum members read off the class are slow in 3.11
_STORY_PATH = STORY_PATH
# The response headers (ASGI form), with X-Republish-Dropped for hits that are not views.
BASE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-type", b"image/gif"),
    (b"content-length", str(len(GIF)).encode()),
    (b"cache-control", b"no-store, max-age=0"),
    (b"cross-origin-resource-policy", b"cross-origin"),
    (b"x-content-type-options", b"nosniff"),
)
RESPONSE_HEADERS: dict[DropReason, tuple[tuple[bytes, bytes], ...]] = {
    reason: BASE_HEADERS
    + (((b"x-republish-dropped", reason.value.encode()),) if reason is not DropReason.NONE else ())
    for reason in DropReason
}


class PixelApp(PixelFront):
    """The pixel as an ASGI app; ``await app.startup()`` / ``await app.shutdown()`` when
    mounted inside another app (standalone, it handles the lifespan itself)."""

    async def startup(self) -> None:
        """Seal segments left open by crashed processes of this machine."""
        self.seal_orphans()

    async def shutdown(self) -> None:
        """Make every pending hit durable and seal the segment."""
        await self.log.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self._lifespan(receive, send)
            return
        reason = _NONE
        try:
            wanted = self.core.header_names
            fields = {name: value for name, value in scope["headers"] if name in wanted}
            client = scope.get("client")
            line, reason = self.core.hit(scope["path"], fields, client[0] if client else "")
            await self.log.append(line)
        except Exception:  # the pixel always answers; the failure is logged
            logger.exception("hit not recorded")
        # Fresh messages and header lists: middleware around a mounted pixel may edit them.
        headers = list(RESPONSE_HEADERS[reason])
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
