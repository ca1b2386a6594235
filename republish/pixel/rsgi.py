"""The pixel as an RSGI app, granian's own interface (``granian --interface rsgi``).

Measured against the ASGI app under granian and against the dedicated server in
``bench/pixel`` (see ``bench/pixel/notes.md``). Same per-hit core, same hit log, same
answer as :class:`republish.pixel.app.PixelApp`. Serve it with a module of your own::

    app = PixelRSGI(Path("republish-hits"))
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from republish.hits import DropReason
from republish.pixel.app import GIF, RESPONSE_HEADERS
from republish.pixel.core import PixelFront

__all__ = ["PixelRSGI"]

logger = logging.getLogger("republish.pixel")

_HEADERS: dict[DropReason, list[tuple[str, str]]] = {
    reason: [(name.decode(), value.decode()) for name, value in headers]
    for reason, headers in RESPONSE_HEADERS.items()
}


class _Proto(Protocol):
    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None: ...


class PixelRSGI(PixelFront):
    """``__rsgi__`` answers the pixel; ``__rsgi_init__``/``__rsgi_del__`` seal segments."""

    def _prepare(self) -> None:
        self._names = [(name, name.decode()) for name in self.core.header_names]

    def __rsgi_init__(self, loop: Any) -> None:
        self.seal_orphans()

    def __rsgi_del__(self, loop: Any) -> None:
        loop.run_until_complete(self.log.aclose())

    async def __rsgi__(self, scope: Any, proto: _Proto) -> None:
        if scope.proto != "http":
            return
        reason = DropReason.NONE
        try:
            headers = scope.headers
            fields = {}
            for raw, name in self._names:
                value = headers.get(name)
                if value is not None:
                    fields[raw] = value.encode("latin-1", "replace")
            peer = scope.client.rpartition(":")[0].strip("[]")
            line, reason = self.core.hit(scope.path, fields, peer)
            await self.log.append(line)
        except Exception:  # the pixel always answers; the failure is logged
            logger.exception("hit not recorded")
        body = b"" if scope.method == "HEAD" else GIF
        proto.response_bytes(200, _HEADERS[reason], body)
