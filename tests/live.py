"""The real app (demo pages included) served by uvicorn on loopback, for browser tests.

``with serve_demo(settings) as live: ...`` seeds the demo into the test's database, with
``base_url`` set to the live server's address, serves it from a background thread on a
free port of 127.0.0.1, and shuts it down cleanly on exit.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from republish.config import Settings
from republish.demo import DemoSite, demo_routes, seed_demo
from republish.store.db import Database
from republish.web.app import create_app

START_TIMEOUT_S = 10.0


@dataclass
class LiveDemo:
    """A running demo: its address, settings, database and what was seeded."""

    base_url: str
    settings: Settings
    db: Database
    site: DemoSite

    def url(self, path: str = "/") -> str:
        return self.base_url + path


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        # The test runner owns signals; this server lives in a background thread.
        pass


@contextmanager
def serve_app(app: object, sock: socket.socket) -> Iterator[None]:
    """Serve ``app`` on the bound socket ``sock`` until the block ends."""
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        log_level="warning",
        lifespan="on",
        ws="none",
        http="h11",
        access_log=False,
    )
    server = _Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_S)
        sock.close()


@contextmanager
def serve_demo(settings: Settings) -> Iterator[LiveDemo]:
    """Seed the demo into ``settings.database_url`` and serve it on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    live_settings = settings.replace(base_url=base_url)
    db = Database(live_settings.database_url)
    try:
        site = seed_demo(db, base_url)
        app = create_app(live_settings, extra_routes=demo_routes(db, base_url), database=db)
        with serve_app(app, sock):
            yield LiveDemo(base_url, live_settings, db, site)
    finally:
        sock.close()
        db.dispose()
