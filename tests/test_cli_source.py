"""``republish source``, ``watch``, ``ingest --feed/--sitemap/--wordpress`` and
``publisher profile``: real database, real loopback site, real processes where it matters."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from republish import publishers
from republish.cli import cli
from republish.store.db import Database
from republish.store.schema import publishers as publishers_table
from republish.store.schema import sources as sources_table
from republish.store.schema import stories as stories_table
from republish.store.schema import story_revisions
from tests.servers import LoopbackServer, Response
from tests.sources_fixtures import make_feed
from tests.sources_site import Site

ROOT = Path(__file__).resolve().parents[1]


def _run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _count(db: Database, table: sa.Table) -> int:
    with db.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)


@pytest.fixture
def site(http_server: LoopbackServer) -> Iterator[Site]:
    newsroom = Site(http_server)
    newsroom.add(4)
    newsroom.serve(max_story=20)
    yield newsroom


@pytest.fixture
def daily(db: Database) -> str:
    publishers.create_publisher(db, "daily", "The Test Daily")
    return "daily"


# --- source add / list / remove --------------------------------------------------------


def test_source_add_list_remove(
    cli_env: dict[str, str], db: Database, daily: str, site: Site
) -> None:
    code, out, _ = _run(
        cli_env, "source", "add", "--publisher", daily, "--kind", "feed", site.url("/feed.xml")
    )
    assert code == 0 and out.startswith("Added feed source 1 for daily:")
    code, out, _ = _run(
        cli_env, "source", "add", "--publisher", daily, "--kind", "sitemap", "--every", "2h",
        site.url("/sitemap.xml"),
    )  # fmt: skip
    assert code == 0 and "(every 2h)" in out
    code, out, _ = _run(cli_env, "source", "list")
    lines = out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].split("\t")[:5] == ["1", "daily", "feed", "15m", site.url("/feed.xml")]
    assert lines[1].endswith("not polled yet")
    code, out, _ = _run(cli_env, "source", "list", "--publisher", daily, "--json")
    listed = json.loads(out)
    assert [item["kind"] for item in listed] == ["feed", "sitemap"]
    assert listed[1]["every"] == "2h" and listed[0]["last_error"] is None
    code, out, _ = _run(cli_env, "source", "remove", "1")
    assert (code, out.strip()) == (0, "Removed source 1.")
    assert _count(db, sources_table) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--kind", "feed", "ftp://x.example/feed"), "not an absolute http(s) URL"),
        (("--kind", "feed", "--every", "10s", "https://x.example/f"), "between 1 minute"),
        (("--kind", "rss", "https://x.example/f"), "Invalid value for '--kind'"),
    ],
)
def test_source_add_bad_input_stores_nothing(
    cli_env: dict[str, str], db: Database, daily: str, args: tuple[str, ...], message: str
) -> None:
    code, out, err = _run(cli_env, "source", "add", "--publisher", daily, *args)
    assert code != 0 and out == ""
    assert message in err
    assert _count(db, sources_table) == 0


def test_source_unknown_publisher_duplicate_and_unknown_id(
    cli_env: dict[str, str], db: Database, daily: str
) -> None:
    code, _, err = _run(
        cli_env, "source", "add", "--publisher", "nobody", "--kind", "feed", "https://x.example/f"
    )
    assert code == 1 and err.strip() == "Error: no publisher with slug 'nobody'"
    _run(cli_env, "source", "add", "--publisher", daily, "--kind", "feed", "https://x.example/f")
    code, _, err = _run(
        cli_env, "source", "add", "--publisher", daily, "--kind", "feed", "https://x.example/f"
    )
    assert code == 1 and "already has feed source" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(cli_env, "source", "remove", "99")
    assert code == 1 and err.strip() == "Error: no source with id 99"
    assert _count(db, sources_table) == 1


# --- watch -----------------------------------------------------------------------------


def test_watch_once_polls_due_sources(
    cli_env: dict[str, str], db: Database, daily: str, site: Site
) -> None:
    _run(cli_env, "source", "add", "--publisher", daily, "--kind", "feed", site.url("/feed.xml"))
    _run(cli_env, "source", "add", "--publisher", daily, "--kind", "url", site.url("/news/story-9"))
    code, out, err = _run(cli_env, "watch", "--once")
    assert code == 1  # the page source failed (its page answers 404 and was never stored)
    assert f"source 1 (feed {site.url('/feed.xml')}): 4 new, 0 updated" in out
    assert "Error: source 2" in err
    code, out, _ = _run(cli_env, "watch", "--once", "--publisher", daily)
    assert (code, out.strip()) == (0, "No source is due.")
    code, out, _ = _run(cli_env, "source", "list")
    assert "4 new" in out.splitlines()[0]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_watch_stops_cleanly_on_a_signal(
    cli_env: dict[str, str], db: Database, daily: str, site: Site, signum: signal.Signals
) -> None:
    _run(cli_env, "source", "add", "--publisher", daily, "--kind", "feed", site.url("/feed.xml"))
    env = {**os.environ, **cli_env, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "republish", "watch"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "4 new" in first
        process.send_signal(signum)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert f"Stopping after the current poll ({signum.name})." in err
    assert "Traceback" not in err


# --- ingest --feed / --sitemap / --wordpress -------------------------------------------


def _ingest_on_a_terminal(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """``republish ingest ARGS`` in a process whose stderr is a real terminal (a pty), so
    a progress bar is drawn there: exit status, stdout, and what the terminal received."""
    env = {**os.environ, **env, "COLUMNS": "100"}
    env.pop("FORCE_COLOR", None)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "republish", "ingest", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=follower,
    )
    os.close(follower)
    drawn = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the process closed its end
            break
        if not chunk:
            break
        drawn += chunk
    out, _ = process.communicate(timeout=60)
    os.close(leader)
    return process.returncode, out.decode(), drawn.decode(errors="replace")


def test_ingest_feed_of_1000_with_progress_bar_then_nothing_changes(
    cli_env: dict[str, str], db: Database, daily: str, http_server: LoopbackServer
) -> None:
    feed = make_feed(1000, site=http_server.url("").rstrip("/"))
    url = http_server.route(
        "/big.xml", Response(200, feed, {"Content-Type": "application/rss+xml"})
    )

    def run_on_a_terminal() -> tuple[int, str, str]:
        return _ingest_on_a_terminal(cli_env, "--publisher", daily, "--feed", url)

    code, out, drawn = run_on_a_terminal()
    assert code == 0, drawn
    assert out.strip() == f"feed {url}: 1000 new, 0 updated, 0 unchanged, 0 withdrawn, " \
        "0 refused, 0 failed"  # fmt: skip
    assert "Storing stories" in drawn and "/1000" in drawn
    assert _count(db, stories_table) == 1000 and _count(db, story_revisions) == 1000

    code, out, drawn = run_on_a_terminal()
    assert code == 0
    assert "0 new, 0 updated, 1000 unchanged, 0 withdrawn, 0 refused, 0 failed" in out
    assert _count(db, stories_table) == 1000 and _count(db, story_revisions) == 1000

    # Without a terminal there is no bar: stderr stays empty (FORCE_COLOR would fake one).
    result = CliRunner().invoke(
        cli,
        ["ingest", "--publisher", daily, "--feed", url],
        env={**cli_env, "FORCE_COLOR": None},
        catch_exceptions=False,
    )
    code, out, err = result.exit_code, result.stdout, result.stderr
    assert (code, err) == (0, "") and "1000 unchanged" in out


def test_ingest_quiet_draws_no_bar_on_a_terminal(
    cli_env: dict[str, str], db: Database, daily: str, site: Site
) -> None:
    feed = site.url("/feed.xml")
    code, out, drawn = _ingest_on_a_terminal(cli_env, "--publisher", daily, "--feed", feed, "-q")
    assert (code, drawn) == (0, "")
    assert "4 new" in out


def test_ingest_feed_update_and_refused_entries(
    cli_env: dict[str, str], db: Database, daily: str, http_server: LoopbackServer
) -> None:
    base = http_server.url("").rstrip("/")
    xml = {"Content-Type": "application/rss+xml"}
    url = http_server.route("/feed.xml", Response(200, make_feed(3, site=base), xml))
    _run(cli_env, "ingest", "--publisher", daily, "--feed", url)
    changed = make_feed(3, site=base, changed={1}).replace(
        b"</channel>",
        b"<item><title>Elsewhere</title><link>https://wire.example/a</link></item></channel>",
    )
    http_server.route("/feed.xml", Response(200, changed, xml))
    code, out, err = _run(cli_env, "ingest", "--publisher", daily, "--feed", url, "--quiet")
    assert code == 0
    assert "0 new, 1 updated, 2 unchanged, 0 withdrawn, 1 refused, 0 failed" in out
    assert "refused: https://wire.example/a: not on daily's domains (127.0.0.1)" in err
    assert _count(db, story_revisions) == 4


def test_ingest_sitemap_and_wordpress_once(
    cli_env: dict[str, str], db: Database, daily: str, site: Site
) -> None:
    code, out, err = _run(
        cli_env, "ingest", "--publisher", daily, "--sitemap", site.url("/sitemap.xml")
    )
    assert code == 0, err
    assert "4 new, 0 updated, 0 unchanged" in out
    site.stories[2].title = "Council rejects plan number 2"
    code, out, err = _run(cli_env, "ingest", "--publisher", daily, "--wordpress", site.url("/"))
    assert code == 0, err
    assert "0 new, 1 updated, 3 unchanged" in out
    assert _count(db, sources_table) == 0  # a one-off run registers nothing


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--feed", "ftp://x.example/feed"), "Error: not an absolute http(s) URL"),
        (("--feed", "http://127.0.0.1:9/feed.xml"), "Error: could not connect to"),
        (("--feed", "URL", "--sitemap", "URL"), "give pages, or one of --feed"),
        (("--feed", "URL", "page.html"), "give pages, or one of --feed"),
        ((), "give FILE_OR_URL..., or one of"),
    ],
)
def test_ingest_source_bad_input_stores_nothing(
    cli_env: dict[str, str], db: Database, daily: str, args: tuple[str, ...], message: str
) -> None:
    code, out, err = _run(cli_env, "ingest", "--publisher", daily, *args)
    assert code != 0 and out == ""
    assert message in err
    assert len([line for line in err.splitlines() if line.startswith("Error")]) == 1
    assert _count(db, stories_table) == 0 and _count(db, sources_table) == 0


def test_ingest_source_unknown_publisher(cli_env: dict[str, str], db: Database, site: Site) -> None:
    code, out, err = _run(
        cli_env, "ingest", "--publisher", "nobody", "--feed", site.url("/feed.xml")
    )
    assert (code, out, err.strip()) == (1, "", "Error: unknown publisher 'nobody'")
    assert _count(db, stories_table) == 0


def test_ingest_not_a_feed(cli_env: dict[str, str], db: Database, daily: str, site: Site) -> None:
    code, out, err = _run(
        cli_env, "ingest", "--publisher", daily, "--feed", site.url("/news/story-1")
    )
    assert code == 1 and out == ""
    assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1
    assert _count(db, stories_table) == 0


# --- publisher profile -----------------------------------------------------------------


def _stored_profile(db: Database) -> object:
    with db.connect() as conn:
        return conn.execute(sa.select(publishers_table.c.site_profile)).scalar()


def test_publisher_profile_set_show_clear(
    cli_env: dict[str, str], db: Database, daily: str
) -> None:
    code, out, _ = _run(
        cli_env, "publisher", "profile", daily, "--body", "div.story-body",
        "--byline", ".author a", "--exclude", ".donate", "--exclude", "aside.related",
    )  # fmt: skip
    assert code == 0 and out.strip() == "Updated the site profile of daily: body, byline, exclude."
    code, out, _ = _run(cli_env, "publisher", "profile", daily, "--headline", "h1.title")
    assert code == 0
    code, out, _ = _run(cli_env, "publisher", "profile", daily)
    assert json.loads(out) == {
        "body": "div.story-body",
        "headline": "h1.title",
        "byline": ".author a",
        "published": "",
        "exclude": [".donate", "aside.related"],
    }
    shown = json.loads(_run(cli_env, "publisher", "show", daily)[1])
    assert shown["site_profile"]["headline"] == "h1.title"
    code, out, _ = _run(cli_env, "publisher", "profile", daily, "--clear")
    assert code == 0 and "no site profile" in out
    assert _stored_profile(db) is None
    code, out, _ = _run(cli_env, "publisher", "profile", daily)
    assert out.strip() == "null"


def test_publisher_profile_bad_selector_stores_nothing(
    cli_env: dict[str, str], db: Database, daily: str
) -> None:
    _run(cli_env, "publisher", "profile", daily, "--body", "article")
    code, out, err = _run(
        cli_env, "publisher", "profile", daily, "--body", "div[", "--headline", "h1"
    )
    assert code == 1 and out == ""
    assert err.startswith("Error: invalid CSS selector 'div['") and err.count("\n") == 1
    assert _stored_profile(db) == {
        "body": "article", "headline": "", "byline": "", "published": "", "exclude": [],
    }  # fmt: skip
    code, _, err = _run(cli_env, "publisher", "profile", "nobody", "--body", "article")
    assert code == 1 and err.strip() == "Error: no publisher with slug 'nobody'"
