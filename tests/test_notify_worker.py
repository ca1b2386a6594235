"""The app's in-process rollup: started with a mounted pixel, a final pass at shutdown
that counts every hit and delivers the notifications it queued; off with interval 0.
Notifications go out from a thread of their own, woken by each pass: a receiver that
hangs does not hold the counting."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import sqlalchemy as sa

from republish.config import Settings
from republish.notify import add_target
from republish.pixel.app import PixelApp
from republish.store.db import Database
from republish.store.schema import daily_stats
from republish.web.app import create_app
from tests.servers import LoopbackServer, Response
from tests.test_notify import PAGE, Receiver
from tests.webclient import WebClient

READER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Referer": PAGE + "?utm_source=newsletter",
}


def _views(db: Database) -> dict[str, int]:
    with db.connect() as conn:
        rows = conn.execute(sa.select(daily_stats.c.site, daily_stats.c.views)).all()
    return {site: views for site, views in rows}


def test_shutdown_rolls_up_and_delivers(
    settings: Settings, db: Database, story_id: str, tmp_path: Path, http_server: LoopbackServer
) -> None:
    receiver = Receiver.on(http_server)
    add_target(db, settings, "daily", webhook=receiver.url)
    # A long interval: only the final pass at shutdown can have counted the hit.
    configured = settings.replace(rollup_interval_s=3600, hit_log_dir=str(tmp_path))
    app = create_app(configured, database=db, pixel=PixelApp.from_settings(configured))
    with WebClient(app) as web:
        assert web.get(f"/p/{story_id}.gif", headers=READER).status_code == 200
        assert app.state.rollup_worker is not None
        assert _views(db) == {}
    assert _views(db) == {"citypaper.example": 1}
    [(_, body)] = receiver.received
    event = json.loads(body)
    assert (event["site"], event["page_url"]) == ("citypaper.example", PAGE)


def test_interval_zero_leaves_rollups_to_the_rollup_command(
    settings: Settings, db: Database, story_id: str, tmp_path: Path
) -> None:
    configured = settings.replace(rollup_interval_s=0, hit_log_dir=str(tmp_path))
    app = create_app(configured, database=db, pixel=PixelApp.from_settings(configured))
    with WebClient(app) as web:
        assert web.get(f"/p/{story_id}.gif", headers=READER).status_code == 200
        assert app.state.rollup_worker is None
    assert _views(db) == {}
    assert list((tmp_path / "segments").glob("*.seg"))  # the hit waits in the log


def test_no_worker_without_a_pixel(settings: Settings, db: Database) -> None:
    app = create_app(settings.replace(rollup_interval_s=1), database=db)
    with WebClient(app) as web:
        assert web.get("/healthz").status_code == 200
        assert app.state.rollup_worker is None


def test_a_failing_after_pass_step_does_not_stop_the_worker(db: Database, tmp_path: Path) -> None:
    from republish.stats.worker import RollupWorker

    calls: list[object] = []

    def broken(result: object) -> None:
        calls.append(result)
        raise OSError("receiver down")

    worker = RollupWorker(db, tmp_path, interval_s=3600, after_pass=broken)
    worker.start()
    worker.stop()
    assert worker.passes == 1 and len(calls) == 1 and calls[0] is not None


def until(check: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Whether ``check()`` became true within ``timeout_s`` (polled every 20 ms)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_hanging_receiver_does_not_hold_the_rollup(
    settings: Settings, db: Database, story_id: str, tmp_path: Path, http_server: LoopbackServer
) -> None:
    release = threading.Event()
    arrived: list[bytes] = []

    def hanging(handler: BaseHTTPRequestHandler) -> Response:
        arrived.append(handler.rfile.read(int(handler.headers.get("Content-Length", "0"))))
        release.wait(30)  # as a receiver taking its whole timeout would
        return Response(200, b"{}", {"Content-Type": "application/json"})

    add_target(db, settings, "daily", webhook=http_server.route("/hooks/slow", hanging))
    # The webhook client gives a receiver 10 s (webhook.TIMEOUT_S); the counting must not wait.
    configured = settings.replace(
        rollup_interval_s=0.05, hit_log_dir=str(tmp_path), fetch_timeout_s=60.0
    )
    app = create_app(configured, database=db, pixel=PixelApp.from_settings(configured))
    other = {**READER, "Referer": "https://second-paper.example/reprint"}
    try:
        with WebClient(app) as web:
            assert web.get(f"/p/{story_id}.gif", headers=READER).status_code == 200
            # The first pass queues the new republisher, and the sender is now stuck in it.
            assert until(lambda: len(arrived) == 1), "the notification was not sent"
            for _ in range(3):
                assert web.get(f"/p/{story_id}.gif", headers=other).status_code == 200
            counted = until(lambda: _views(db).get("second-paper.example") == 3, 4.0)
            assert counted, f"the rollup waited for the receiver: {_views(db)}"
            assert app.state.delivery_worker.passes == 0  # still in its first send
            release.set()
    finally:
        release.set()
    # The sender's final pass sends the second republisher's notification.
    sites = {json.loads(body)["site"] for body in arrived}
    assert sites == {"citypaper.example", "second-paper.example"}
