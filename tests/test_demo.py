"""The demo: `republish demo --no-serve` builds its database through the real ingest path,
and its pages render with the real app."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path

import httpx
from click.testing import CliRunner

from republish import publishers
from republish.cli import cli
from republish.config import Settings
from republish.demo import ARTICLES, DEMO_SLUG, article_url, demo_routes, seed_demo
from republish.models import Story
from republish.snippet import render_snippet
from republish.store import publishers as publisher_store
from republish.store import stories as story_store
from republish.store.db import Database
from republish.users import verify_login
from republish.web.app import create_app

BASE = "http://127.0.0.1:8000"
#: Text of the page chrome around the stories: none of it may reach a stored body.
CHROME = (
    "Local news is a public good",
    "Become a member",
    "The Morning Tide",
    "Sign up",
    "More from the Ledger",
    "Skip to the story",
    "Photo:",
    "Nonprofit news for Port Avery",
    "Send a tip",
)


def _run_demo(cli_env: dict[str, str], database_url: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["demo", "--no-serve", "--database-url", database_url], env=cli_env
    )
    return result.exit_code, result.output


def _stories_by_slug(db: Database, base_url: str = BASE) -> dict[str, Story]:
    with db.connect() as conn:
        publisher = publisher_store.get_publisher(conn, DEMO_SLUG)
        assert publisher.id is not None
        stored = story_store.list_stories(conn, publisher.id)
    by_url = {story.canonical_url: story for story in stored}
    assert len(by_url) == len(stored)
    return {slug: by_url[article_url(base_url, slug)] for slug in ARTICLES}


def test_demo_no_serve_builds_the_database(
    cli_env: dict[str, str], settings: Settings, db: Database
) -> None:
    code, output = _run_demo(cli_env, settings.database_url)
    assert code == 0, output
    stories = _stories_by_slug(db)
    assert len(stories) >= 5
    with db.connect() as conn:
        publisher = publisher_store.get_publisher(conn, DEMO_SLUG)
    decisions = {slug: render_snippet(story, publisher, BASE) for slug, story in stories.items()}

    wire = stories["reservoir-levels-wire"]
    assert wire.origin == "AP"
    assert "(AP)" in wire.origin_evidence
    assert decisions["reservoir-levels-wire"].republishable is False
    assert "AP" in decisions["reservoir-levels-wire"].reason
    assert decisions["reservoir-levels-wire"].reason in output

    assert decisions["waterfront-for-everyone"].republishable is False
    assert "Opinion" in decisions["waterfront-for-everyone"].reason
    offered = [slug for slug, snippet in decisions.items() if snippet.republishable]
    assert len(offered) >= 3

    assert len(stories["school-water-lead"].bylines) >= 2

    guide = stories["council-election-guide"].body_html
    assert "<ul>" in guide and "<ol>" in guide and "<li>" in guide
    assert "<blockquote>" in guide
    assert len(re.findall(r'<a href="[^"]+"', guide)) >= 10

    for slug, story in stories.items():
        assert 250 <= len(story.body_text.split()) <= 800, slug
        assert "<img" not in story.body_html, slug
        assert "<figure" not in story.body_html, slug
        for text in CHROME:
            assert text not in story.body_text, (slug, text)
        assert story.headline and story.published_at is not None, slug

    # The printed dashboard login works, for the demo publisher only.
    login = re.search(r"Dashboard login: (\S+) / (\S+)", output)
    assert login is not None, output
    user = verify_login(db, login.group(1), login.group(2))
    assert user is not None and user.publisher_id == publisher.id


def test_demo_starts_fresh_each_run(
    cli_env: dict[str, str], settings: Settings, db: Database
) -> None:
    assert _run_demo(cli_env, settings.database_url)[0] == 0
    first = {story.id for story in _stories_by_slug(db).values()}
    db.dispose()
    code, output = _run_demo(cli_env, settings.database_url)
    assert code == 0, output
    second = _stories_by_slug(db)
    assert len(second) == len(ARTICLES)
    assert first.isdisjoint(story.id for story in second.values())


def test_demo_refuses_a_database_with_other_publishers(
    cli_env: dict[str, str], settings: Settings, db: Database
) -> None:
    publishers.create_publisher(db, "real-news", "Real News")
    db.dispose()
    code, output = _run_demo(cli_env, settings.database_url)
    assert code != 0
    assert "other publishers (real-news)" in output
    with db.connect() as conn:
        assert [p.slug for p in publisher_store.list_publishers(conn)] == ["real-news"]


def test_demo_refuses_to_delete_a_foreign_sqlite_file(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "notes.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    conn.close()
    code, output = _run_demo(cli_env, f"sqlite:///{path}")
    assert code != 0
    assert "not a republish database" in output
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT body FROM notes").fetchall() == [("keep me",)]
    conn.close()


def test_demo_help_says_the_database_is_recreated() -> None:
    result = CliRunner().invoke(cli, ["demo", "--help"], terminal_width=100)
    assert result.exit_code == 0
    assert "RECREATED FRESH" in result.output
    assert "republish-demo.db" in result.output


def _get_all(app: object, paths: list[str]) -> dict[str, httpx.Response]:
    async def fetch() -> dict[str, httpx.Response]:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            return {path: await client.get(path) for path in paths}

    return asyncio.run(fetch())


def test_demo_pages_render(settings: Settings, db: Database) -> None:
    site = seed_demo(db, BASE)
    app = create_app(settings, extra_routes=demo_routes(db, BASE), database=db)
    offered = site.stories["ferry-winter-schedule"]
    wire = site.stories["reservoir-levels-wire"]
    article_paths = [f"/demo/articles/{slug}" for slug in ARTICLES]
    responses = _get_all(
        app,
        [
            "/",
            *article_paths,
            f"/demo/republisher/{offered.id}",
            f"/demo/republisher/{wire.id}",
            "/demo/articles/no-such-story",
            "/demo/republisher/nosuchstory",
        ],
    )

    index = responses["/"]
    assert index.status_code == 200
    for slug, story in site.stories.items():
        assert f'href="{article_url(BASE, slug)}"' in index.text
        assert f"/republish/{story.id}" in index.text
    assert f"/demo/republisher/{offered.id}" in index.text
    assert f"/demo/republisher/{wire.id}" not in index.text
    assert f"/guidelines/{DEMO_SLUG}" in index.text

    for slug, path in zip(ARTICLES, article_paths, strict=True):
        page = responses[path]
        assert page.status_code == 200, path
        assert "{{base}}" not in page.text
        assert f'<link rel="canonical" href="{article_url(BASE, slug)}">' in page.text
        assert page.text.count("/widget.js") == 1
        assert f'<script src="{BASE}/widget.js" data-publisher="{DEMO_SLUG}" async>' in page.text
        links = re.findall(r'<a data-republish href="([^"]+)"', page.text)
        assert len(links) == 1
        assert links[0].startswith(f"{BASE}/republish?publisher={DEMO_SLUG}&amp;url=")

    republisher = responses[f"/demo/republisher/{offered.id}"]
    assert republisher.status_code == 200
    snippet = render_snippet(offered, site.publisher, BASE)
    head, body = republisher.text.split("</head>", 1)
    assert snippet.head in head
    assert snippet.html.strip() in body
    assert "Inland Valley Voice" in body

    assert responses[f"/demo/republisher/{wire.id}"].status_code == 404
    assert responses["/demo/articles/no-such-story"].status_code == 404
    assert responses["/demo/republisher/nosuchstory"].status_code == 404


def test_no_js_link_of_a_demo_page_leads_to_the_standalone_page(
    settings: Settings, db: Database
) -> None:
    site = seed_demo(db, BASE)
    app = create_app(settings, extra_routes=demo_routes(db, BASE), database=db)
    story = site.stories["school-water-lead"]
    page = _get_all(app, ["/demo/articles/school-water-lead"])["/demo/articles/school-water-lead"]
    link = re.findall(r'<a data-republish href="([^"]+)"', page.text)[0].replace("&amp;", "&")
    path = link.removeprefix(BASE)
    redirect = _get_all(app, [path])[path]
    assert redirect.status_code in {302, 303, 307}
    assert redirect.headers["location"].endswith(f"/republish/{story.id}")
    standalone = _get_all(app, [f"/republish/{story.id}"])[f"/republish/{story.id}"]
    assert standalone.status_code == 200
    assert story.headline in standalone.text
