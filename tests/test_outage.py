"""The database goes away for a minute while pixels keep being served: nothing is lost.

Runs in the PostgreSQL pass only (``pytest --postgres``): it stops the machine's real
PostgreSQL cluster with ``pg_ctlcluster`` and starts it again.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from republish.stats.worker import RollupWorker
from republish.store.db import Database
from tests.test_durability import _free_port, _load, _start, _views

OUTAGE_S = 60


def _cluster() -> list[str]:
    if shutil.which("pg_lsclusters") is None:
        return []
    lines = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
    for line in lines.splitlines():
        version, name, port, *_ = line.split()
        if port == "5432":
            return [version, name]
    return []


def _pg(action: str, cluster: list[str]) -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, action],
        check=True,
        capture_output=True,
    )


def test_database_outage_loses_no_hit(
    request: pytest.FixtureRequest, db: Database, story_id: str, tmp_path: Path
) -> None:
    if not request.config.getoption("--postgres"):
        pytest.skip("the outage test runs in the PostgreSQL pass (pytest --postgres)")
    cluster = _cluster()
    if not cluster or os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must be able to stop and start the local PostgreSQL cluster")
        pytest.skip("needs root and pg_ctlcluster for the local PostgreSQL cluster")

    worker = RollupWorker(db, tmp_path, interval_s=1.0)
    worker.start()
    port = _free_port()
    server = _start(tmp_path, port, "native")  # the server `republish pixel` runs by default
    answered = 0
    try:
        answered += asyncio.run(_load(port, story_id, 200, lambda: None))[0]
        _pg("stop", cluster)
        try:
            down_until = time.monotonic() + OUTAGE_S
            while time.monotonic() < down_until:
                answered += asyncio.run(_load(port, story_id, 10**9, lambda: None))[0]
        finally:
            _pg("start", cluster)
        assert worker.failures > 0, "the rollup should have failed while the database was down"
        answered += asyncio.run(_load(port, story_id, 200, lambda: None))[0]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        worker.stop()
    # The first query after the restart may hit a pooled connection that died with the
    # server; the worker's next pass succeeds.
    deadline = time.monotonic() + 30
    while _views_or_none(db) != answered and time.monotonic() < deadline:
        worker.run_once()
        time.sleep(0.5)
    assert _views(db) == answered


def _views_or_none(db: Database) -> int | None:
    try:
        return _views(db)
    except Exception:
        return None
