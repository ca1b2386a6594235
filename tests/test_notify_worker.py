"""The app's in-process rollup: started with a mounted pixel, a final pass at shutdown
that counts every hit and delivers the notifications it queued; off with interval 0."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from republish.config import Settings
from republish.notify import add_target
from republish.pixel.app import PixelApp
from republish.store.db import Database
from republish.store.schema import daily_stats
from republish.web.app import create_app
from tests.servers import LoopbackServer
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
