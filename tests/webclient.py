"""A synchronous test client for the ASGI app: httpx.AsyncClient + ASGITransport.

Starlette's TestClient warns (deprecated with httpx) and pytest turns warnings into
errors, so tests drive the app through httpx on an event loop in a blocking portal.
The app's lifespan (its schema check) runs on enter and exit.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, ExitStack
from functools import partial
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from starlette.applications import Starlette

ADMIN_TOKEN = "test-admin-token"


class WebClient(AbstractContextManager["WebClient"]):
    """``with WebClient(app) as client: client.get("/healthz")``."""

    def __init__(self, app: Starlette, base_url: str = "http://testserver") -> None:
        self.app = app
        self.base_url = base_url
        self._stack = ExitStack()
        self._portal: BlockingPortal | None = None
        self._client: httpx.AsyncClient | None = None

    def __enter__(self) -> WebClient:
        self._portal = self._stack.enter_context(start_blocking_portal())
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url=self.base_url
        )
        self._stack.enter_context(self._portal.wrap_async_context_manager(self._client))
        lifespan = self.app.router.lifespan_context(self.app)
        self._stack.enter_context(self._portal.wrap_async_context_manager(lifespan))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request and wait for the whole response."""
        assert self._portal is not None and self._client is not None, "use `with`"
        return self._portal.call(partial(self._client.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)


def bearer(token: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {token}"}


ADMIN = bearer(ADMIN_TOKEN)
