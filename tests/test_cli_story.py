"""``republish snippet``, ``republish story`` and ``republish serve`` through the real CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from republish import publishers
from republish.cli import cli
from republish.config import Settings
from republish.ingest.push import story_from_push
from republish.ingest.run import ingest_extracted
from republish.models import Story
from republish.snippet import render_snippet
from republish.store import publishers as publisher_store
from republish.store import stories as story_store
from republish.store.db import Database
from republish.web.serialize import snippet_to_json

STORY_URL = "https://harbor.example/2026/03/ferry-returns"


def _run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _store(db: Database, slug: str = "harbor", **changes: Any) -> Story:
    payload: dict[str, Any] = {
        "url": STORY_URL,
        "headline": "The ferry returns to Gull Island",
        "body_html": "<p>After two winters, the ferry is back.</p>",
        "bylines": ["Mara Lind"],
        "published_at": "2026-03-07T14:30:00Z",
    }
    payload.update(changes)
    return ingest_extracted(db, slug, story_from_push(payload), "push").story


@pytest.fixture
def harbor(db: Database) -> None:
    publishers.create_publisher(db, "harbor", "Harbor Gazette")


def test_snippet_formats_match_the_api(
    cli_env: dict[str, str], db: Database, settings: Settings, harbor: None
) -> None:
    story = _store(db)
    with db.connect() as conn:
        publisher = publisher_store.get_publisher(conn, "harbor")
    expected = render_snippet(story, publisher, settings.base_url)
    for output, value in (
        ("html", expected.html),
        ("head", expected.head),
        ("text", expected.text),
    ):
        code, out, err = _run(cli_env, "snippet", story.id, "--format", output)
        assert (code, out, err) == (0, value, "")
    code, out, _ = _run(cli_env, "snippet", story.id, "--format", "json")
    assert code == 0 and json.loads(out) == snippet_to_json(expected)
    # By URL: with one publisher, --publisher may be left out; tracking parameters are ignored.
    code, out, _ = _run(cli_env, "snippet", STORY_URL + "?utm_medium=email")
    assert (code, out) == (0, expected.html)


def test_snippet_by_url_needs_publisher_when_several(
    cli_env: dict[str, str], db: Database, harbor: None
) -> None:
    story = _store(db)
    publishers.create_publisher(db, "other", "Other Paper")
    code, _, err = _run(cli_env, "snippet", STORY_URL)
    assert code == 1 and "--publisher" in err
    code, out, _ = _run(cli_env, "snippet", STORY_URL, "--publisher", "harbor", "--format", "head")
    assert code == 0 and STORY_URL in out
    code, _, err = _run(cli_env, "snippet", STORY_URL, "--publisher", "other")
    assert code == 1 and "no story" in err
    code, _, err = _run(cli_env, "snippet", "nosuchstory")
    assert code == 1 and err.startswith("Error: ") and len(err.strip().splitlines()) == 1
    assert story.id


def test_snippet_of_a_refused_story(cli_env: dict[str, str], db: Database, harbor: None) -> None:
    story = _store(db, body_html="<p>GULL ISLAND (AP) — The ferry is back.</p>")
    for output in ("html", "head", "text"):
        code, out, err = _run(cli_env, "snippet", story.id, "--format", output)
        assert code == 1 and out == ""
        assert "AP" in err
    code, out, _ = _run(cli_env, "snippet", story.id, "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["republishable"] is False and data["html"] == ""


def test_story_list_and_show(cli_env: dict[str, str], db: Database, harbor: None) -> None:
    code, out, _ = _run(cli_env, "story", "list")
    assert code == 0 and "No stories yet" in out
    first = _store(db)
    _store(db, body_html="<p>After two winters, the ferry is back. Fares are lower.</p>")
    publishers.create_publisher(db, "other", "Other Paper")
    second = _store(db, "other", url="https://other.example/a", headline="Bridge opens")

    code, out, _ = _run(cli_env, "story", "list")
    rows = [line.split("\t") for line in out.splitlines()]
    assert code == 0 and {row[0] for row in rows} == {first.id, second.id}
    code, out, _ = _run(cli_env, "story", "list", "--publisher", "other", "--json")
    assert [item["id"] for item in json.loads(out)] == [second.id]
    code, _, err = _run(cli_env, "story", "list", "--publisher", "nobody")
    assert code == 1 and "nobody" in err

    code, out, _ = _run(cli_env, "story", "show", first.id)
    shown = json.loads(out)
    assert (shown["id"], shown["revision"], shown["publisher"]) == (first.id, 2, "harbor")
    assert "revisions" not in shown
    code, out, _ = _run(cli_env, "story", "show", first.id, "--revisions")
    assert [r["revision"] for r in json.loads(out)["revisions"]] == [1, 2]


def test_story_override(cli_env: dict[str, str], db: Database, harbor: None) -> None:
    story = _store(db, body_html="<p>GULL ISLAND (AP) — The ferry is back.</p>")
    code, out, _ = _run(
        cli_env, "story", "override", story.id, "--allow", "--reason", "Licensed", "--actor", "ana"
    )
    assert code == 0 and "now offered" in out
    code, out, _ = _run(cli_env, "story", "override", story.id, "--deny", "--reason", "Legal hold")
    assert code == 0 and "Legal hold" in out
    code, out, _ = _run(cli_env, "story", "override", story.id, "--clear", "--reason", "Done")
    assert code == 0 and "not offered" in out  # AP: the policy refuses it again
    with db.connect() as conn:
        history = story_store.list_overrides(conn, story.id)
    assert [(h["republishable"], h["reason"], h["actor"]) for h in history] == [
        (True, "Licensed", "ana"),
        (False, "Legal hold", "cli"),
        (None, "Done", "cli"),
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["--allow"],  # no --reason
        ["--reason", "why"],  # no decision
        ["--allow", "--reason", "why", "--actor", ""],
    ],
)
def test_story_override_bad_input_stores_nothing(
    cli_env: dict[str, str], db: Database, harbor: None, args: list[str]
) -> None:
    story = _store(db)
    code, _, err = _run(cli_env, "story", "override", story.id, *args)
    assert code == 2 and err
    with db.connect() as conn:
        assert story_store.list_overrides(conn, story.id) == []


def test_story_override_unknown_story(cli_env: dict[str, str], db: Database) -> None:
    code, _, err = _run(cli_env, "story", "override", "nosuchstory", "--deny", "--reason", "x")
    assert code == 1 and "nosuchstory" in err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_runs_the_app(
    cli_env: dict[str, str], db: Database, harbor: None, tmp_path: Path
) -> None:
    story = _store(db)
    port = _free_port()
    env = os.environ | cli_env
    env |= {
        "REPUBLISH_PORT": str(port),
        "REPUBLISH_HOST": "127.0.0.1",
        "REPUBLISH_HIT_LOG_DIR": str(tmp_path / "hits"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "republish", "serve"],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert health.json() == {"ok": True}
        snippet = httpx.get(f"http://127.0.0.1:{port}/api/v1/stories/{story.id}/snippet")
        assert snippet.json()["republishable"] is True
        # The pixel the snippet points to answers on the same server.
        pixel = httpx.get(f"http://127.0.0.1:{port}/p/{story.id}.gif")
        assert (pixel.status_code, pixel.headers["content-type"]) == (200, "image/gif")
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stderr is not None
        log = process.stderr.read().decode("utf-8", "replace")
        process.stderr.close()
    # No access log: the reader's address and the pixel path are not written anywhere.
    assert f"/p/{story.id}.gif" not in log and "127.0.0.1:" not in log.replace(
        f"http://127.0.0.1:{port}", ""
    )
    assert list((tmp_path / "hits" / "segments").glob("*.seg"))


def test_serve_refuses_an_unmigrated_database(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = cli_env | {"REPUBLISH_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    code, _, err = _run(env, "serve", "--port", "0")
    assert code == 1 and "republish db upgrade" in err
