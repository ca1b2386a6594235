"""The stats API: who may read what, JSON and CSV, periods, and numbers equal to the rollup."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from republish import publishers, users
from republish.cli import cli
from republish.config import Settings
from republish.hits import DropReason, HitRecord, Verdict, encode
from republish.models import Extracted
from republish.pixel.log import HitLog
from republish.stats.rollup import rollup
from republish.store import stories
from republish.store.db import Database
from republish.web.app import create_app
from republish.web.stats_api import csv_filename, csv_text, parse_days, safe_cell
from tests.webclient import ADMIN, WebClient, bearer

NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
PASSWORD = "a long enough passphrase"
FORMULA_HEADLINE = '=HYPERLINK("http://attacker.example","Click")'


@dataclass
class Seeded:
    """Two publishers with stories, users and rolled-up hits."""

    daily_token: str
    harbor_token: str
    story_a: str  # daily: 4+3+2 views on paper-one, 1 bot
    story_b: str  # daily, headline that looks like a formula: 3 views on paper-two
    story_c: str  # harbor: 2 views


def _story(db: Database, publisher_id: int, n: int, headline: str, host: str) -> str:
    extracted = Extracted(
        headline=headline,
        canonical_url=f"https://{host}/story-{n}",
        body_html="<p>Text.</p>",
        body_text="Text.",
    )
    with db.begin() as conn:
        return stories.save_story(conn, publisher_id, extracted, "push", NOW)[0].id


def _hit(
    when: datetime, story: str, page: str, visitor: str, verdict: Verdict = Verdict.HUMAN
) -> HitRecord:
    reason = DropReason.BOT_USER_AGENT if verdict is Verdict.BOT else DropReason.NONE
    return HitRecord(int(when.timestamp() * 1000), story, verdict, reason, visitor, page)


def seed(db: Database, log_dir: Path) -> Seeded:
    """Publishers daily and harbor, their stories, users, and hits rolled up."""
    daily, daily_token = publishers.create_publisher(
        db, "daily", "The Daily Lantern", {"domains": ["daily.example"]}
    )
    harbor, harbor_token = publishers.create_publisher(db, "harbor", "Harbor Gazette")
    assert daily.id is not None and harbor.id is not None
    a = _story(db, daily.id, 1, "Ferry returns to Gull Island", "daily.example")
    b = _story(db, daily.id, 2, FORMULA_HEADLINE, "daily.example")
    c = _story(db, harbor.id, 3, "Harbor lights relit", "harbor.example")
    records = []
    for days_ago in range(3):
        when = NOW - timedelta(days=days_ago)
        for n in range(days_ago + 2):
            records.append(_hit(when, a, "https://paper-one.example/news/ferry", f"v{n}"))
        records.append(_hit(when, b, "https://paper-two.example/-strange", "w"))
    records.append(_hit(NOW, a, "https://paper-one.example/news/ferry", "", Verdict.BOT))
    records += [_hit(NOW, c, "https://coast-weekly.example/lights", f"h{n}") for n in range(2)]
    # Outside a 30-day period: counted in the rollup, not in the period's numbers.
    records.append(_hit(NOW - timedelta(days=45), a, "https://old-paper.example/x", "o"))

    async def write() -> None:
        log = HitLog(log_dir / "segments")
        for record in sorted(records, key=lambda r: r.ts_ms):  # a log is in time order
            await log.append(encode(record))
        await log.aclose()

    # In a thread of its own: the browser test runs this beside Playwright's event loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, write()).result()
    rollup(db, log_dir)
    users.create_user(db, "admin@newsroom.example", PASSWORD)
    users.create_user(db, "editor@daily.example", PASSWORD, "daily")
    users.create_user(db, "editor@harbor.example", PASSWORD, "harbor")
    return Seeded(daily_token, harbor_token, a, b, c)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def logout(client: WebClient) -> httpx.Response:
    """Log out with the form of a dashboard page."""
    page = client.get("/dashboard", follow_redirects=True)
    return client.post("/logout", data={"csrf": csrf_of(page.text)})


def login(client: WebClient, email: str, password: str = PASSWORD) -> httpx.Response:
    """Log in through the form (with its CSRF token), as a browser would."""
    form = client.get("/login")
    if form.status_code == 303:  # someone is logged in
        logout(client)
        form = client.get("/login")
    return client.post(
        "/login",
        data={"csrf": csrf_of(form.text), "email": email, "password": password,
              "next": "/dashboard"},
    )  # fmt: skip


@pytest.fixture
def seeded(db: Database, tmp_path: Path) -> Seeded:
    return seed(db, tmp_path)


@pytest.fixture
def app_client(settings: Settings, db: Database) -> Iterator[WebClient]:
    with WebClient(create_app(settings, database=db)) as client:
        yield client


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    message: str = response.json()["error"]
    assert message
    return message


ENDPOINTS = [
    "/api/v1/stats/{slug}/overview",
    "/api/v1/stats/{slug}/views",
    "/api/v1/stats/{slug}/stories",
    "/api/v1/stats/{slug}/republishers",
    "/api/v1/stats/{slug}/new-republishers",
    "/api/v1/stats/{slug}/sites/paper-one.example/stories",
]


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_access_matrix_with_tokens_and_sessions(
    app_client: WebClient, seeded: Seeded, path: str, fmt: str
) -> None:
    daily = path.format(slug="daily") + f"?format={fmt}"
    anonymous = app_client.get(daily)
    _error(anonymous, 401)
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    _error(app_client.get(daily, headers=bearer("rp_not-a-token")), 401)
    assert app_client.get(daily, headers=ADMIN).status_code == 200
    assert app_client.get(daily, headers=bearer(seeded.daily_token)).status_code == 200
    _error(app_client.get(daily, headers=bearer(seeded.harbor_token)), 403)
    _error(app_client.get(path.format(slug="nobody"), headers=ADMIN), 404)

    login(app_client, "editor@harbor.example")
    _error(app_client.get(daily), 403)
    assert app_client.get(path.format(slug="harbor") + f"?format={fmt}").status_code == 200
    login(app_client, "editor@daily.example")
    response = app_client.get(daily)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-store"
    assert "set-cookie" not in response.headers  # reading does not touch the session
    login(app_client, "admin@newsroom.example")
    assert app_client.get(daily).status_code == 200
    assert app_client.get(path.format(slug="harbor")).status_code == 200


def test_story_endpoints_only_for_the_publishers_own_stories(
    app_client: WebClient, seeded: Seeded
) -> None:
    own = f"/api/v1/stats/daily/stories/{seeded.story_a}/republications"
    token = bearer(seeded.daily_token)
    body = app_client.get(own, headers=token).json()
    assert [(r["page_url"], r["views"]) for r in body["republications"]] == [
        ("https://paper-one.example/news/ferry", 9),
        ("https://old-paper.example/x", 1),
    ]
    other = f"/api/v1/stats/daily/stories/{seeded.story_c}/republications"
    _error(app_client.get(other, headers=token), 404)
    _error(app_client.get(other, headers=ADMIN), 404)
    _error(app_client.get("/api/v1/stats/daily/stories/nope/republications", headers=ADMIN), 404)
    _error(app_client.get(f"/api/v1/stats/daily/views?story={seeded.story_c}", headers=ADMIN), 404)


@pytest.mark.parametrize("days", ["0", "-1", "3661", "abc", "7.5", "1e3", "٣"])
def test_bad_period_is_400(app_client: WebClient, seeded: Seeded, days: str) -> None:
    response = app_client.get("/api/v1/stats/daily/overview", params={"days": days}, headers=ADMIN)
    assert "days" in _error(response, 400)


def test_bad_format_is_400(app_client: WebClient, seeded: Seeded) -> None:
    response = app_client.get("/api/v1/stats/daily/stories?format=xlsx", headers=ADMIN)
    assert "format" in _error(response, 400)


def test_numbers_equal_the_rollup(app_client: WebClient, seeded: Seeded) -> None:
    overview = app_client.get("/api/v1/stats/daily/overview?days=30", headers=ADMIN).json()
    # Story A: 2+3+4 human views on paper-one by as many readers a day, 1 bot; story B:
    # one reader a day on paper-two (readers are unique per day, so 3 days count 3).
    # Story C belongs to harbor; the 45-day-old hit is outside the period.
    assert overview["totals"] == {
        "views": 12, "readers": 12, "bots": 1, "previews": 0, "republishers": 2,
    }  # fmt: skip
    assert len(overview["views_per_day"]) == 30
    assert [day["views"] for day in overview["views_per_day"][-3:]] == [5, 4, 3]
    assert [(s["story_id"], s["views"]) for s in overview["top_stories"]] == [
        (seeded.story_a, 9), (seeded.story_b, 3),
    ]  # fmt: skip
    assert {r["site"] for r in overview["new_republishers"]} == {
        "paper-one.example", "paper-two.example",
    }  # fmt: skip
    week = app_client.get("/api/v1/stats/daily/overview?days=1", headers=ADMIN).json()
    assert week["totals"]["views"] == 3
    sixty = app_client.get("/api/v1/stats/daily/views?days=60", headers=ADMIN).json()
    assert sum(day["views"] for day in sixty["views_per_day"]) == 13
    site = app_client.get(
        "/api/v1/stats/daily/sites/paper-two.example/stories", headers=ADMIN
    ).json()
    assert [(s["story_id"], s["views"]) for s in site["stories"]] == [(seeded.story_b, 3)]
    views = app_client.get(
        f"/api/v1/stats/daily/views?story={seeded.story_a}&site=paper-two.example", headers=ADMIN
    ).json()
    assert sum(day["views"] for day in views["views_per_day"]) == 0


def test_cli_prints_the_same_overview(
    app_client: WebClient, seeded: Seeded, cli_env: dict[str, str]
) -> None:
    result = CliRunner().invoke(cli, ["stats", "--publisher", "daily", "--json"], env=cli_env)
    assert result.exit_code == 0, result.output
    from_cli = json.loads(result.output)
    from_api = app_client.get("/api/v1/stats/daily/overview", headers=ADMIN).json()
    assert from_cli == from_api

    site = ["stats", "--publisher", "daily", "--site", "paper-one.example", "--json"]
    from_cli = json.loads(CliRunner().invoke(cli, site, env=cli_env).output)
    path = "/api/v1/stats/daily/sites/paper-one.example/stories"
    assert from_cli == app_client.get(path, headers=ADMIN).json()

    story = ["stats", "--publisher", "daily", "--story", seeded.story_a, "--json"]
    from_cli = json.loads(CliRunner().invoke(cli, story, env=cli_env).output)
    path = f"/api/v1/stats/daily/stories/{seeded.story_a}/republications"
    from_api = app_client.get(path, headers=ADMIN).json()
    assert from_cli["republications"] == from_api["republications"]
    path = f"/api/v1/stats/daily/views?story={seeded.story_a}"
    assert from_cli["views_per_day"] == app_client.get(path, headers=ADMIN).json()["views_per_day"]


def test_csv_has_header_filename_and_neutralised_cells(
    app_client: WebClient, seeded: Seeded
) -> None:
    response = app_client.get("/api/v1/stats/daily/stories?format=csv&days=7", headers=ADMIN)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert re.fullmatch(r'attachment; filename="daily-stories-[0-9-]+\.csv"', disposition)
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["story_id", "headline", "views", "readers", "republishers"]
    by_id = {row[0]: row for row in rows[1:]}
    assert by_id[seeded.story_b][1] == "'" + FORMULA_HEADLINE
    assert by_id[seeded.story_a][1:] == ["Ferry returns to Gull Island", "9", "9", "1"]
    pages = app_client.get(
        f"/api/v1/stats/daily/stories/{seeded.story_b}/republications?format=csv", headers=ADMIN
    )
    assert next(csv.reader(io.StringIO(pages.text))) == [
        "page_url", "site", "first_seen", "last_seen", "views",
    ]  # fmt: skip
    assert 'filename="daily-story-' in pages.headers["content-disposition"]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+49 30", "'+49 30"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        (7, 7),
    ],
)
def test_safe_cell(cell: object, expected: object) -> None:
    assert safe_cell(cell) == expected


def test_csv_text_quotes_and_filenames_are_safe() -> None:
    text = csv_text([{"a": 'say "hi", then\nleave', "b": "=cmd|' /C calc'!A0"}], ["a", "b"])
    assert list(csv.reader(io.StringIO(text))) == [
        ["a", "b"], ['say "hi", then\nleave', "'=cmd|' /C calc'!A0"],
    ]  # fmt: skip
    assert csv_filename("daily", 'site-a"b/../c') == "daily-site-a_b_.._c.csv"


@pytest.mark.parametrize(
    ("raw", "days"), [(None, 30), ("", 30), ("1", 1), ("90", 90), ("3660", 3660), ("0", None)]
)
def test_parse_days(raw: str | None, days: int | None) -> None:
    assert parse_days(raw) == days
