"""The pixel's RSGI app under a real granian process answers and records like the others
(granian is a dev extra: bench/pixel measures the pixel on it)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from republish.hits import DropReason, Verdict
from republish.pixel.app import GIF
from tests.test_pixel import CHROME, _records

pytest.importorskip("granian")

MODULE = (
    "from pathlib import Path\n"
    "from republish.pixel.rsgi import PixelRSGI\n"
    "app = PixelRSGI(Path({hits!r}))\n"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_pixel_on_granian_rsgi_answers_gif_and_records(tmp_path: Path) -> None:
    (tmp_path / "rsgi_pixel.py").write_text(MODULE.format(hits=str(tmp_path / "hits")))
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "granian", "--interface", "rsgi", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--no-access-log", "--working-dir",
         str(tmp_path), "rsgi_pixel:app"],
        env=os.environ | {"PYTHONPATH": str(Path(__file__).parents[1])},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/p/k3x9q2m7ab.gif",
                    headers={"user-agent": CHROME, "referer": "https://b.example/x?y=1"},
                )
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        head = httpx.head(f"http://127.0.0.1:{port}/p/abc.png", headers={"user-agent": CHROME})
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert response.status_code == 200 and response.content == GIF
    assert response.headers["cache-control"].startswith("no-store")
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "set-cookie" not in response.headers
    assert head.status_code == 200 and head.content == b""
    assert head.headers["x-republish-dropped"] == "malformed"
    human, malformed = _records(tmp_path / "hits")
    assert (human.verdict, human.page_url, len(human.visitor)) == (
        Verdict.HUMAN,
        "https://b.example/x",
        32,
    )
    assert (malformed.verdict, malformed.reason) == (Verdict.UNKNOWN_STORY, DropReason.MALFORMED)
    assert [p.suffix for p in (tmp_path / "hits" / "segments").iterdir()] == [".seg"]
