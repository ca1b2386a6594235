"""Dashboard pages: who sees what, the numbers from the rollup, charts, tables, CSV links."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest
from markupsafe import escape

from republish.models import Extracted
from republish.store import stories
from republish.store.db import Database
from republish.web.charts import daily_bars, nice_step
from tests.test_stats_api import FORMULA_HEADLINE, NOW, Seeded, login, seed
from tests.webclient import WebClient

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def seeded(db: Database, tmp_path: Path) -> Seeded:
    return seed(db, tmp_path)


def _pages(seeded: Seeded, slug: str = "daily") -> list[str]:
    return [
        f"/dashboard/{slug}",
        f"/dashboard/{slug}?days=7",
        f"/dashboard/{slug}/stories/{seeded.story_a}",
        f"/dashboard/{slug}/sites/paper-one.example?days=90",
    ]


def _svg(page: str) -> ElementTree.Element:
    found = re.search(r"<svg .*?</svg>", page, re.S)
    assert found is not None
    return ElementTree.fromstring(found.group(0))


def _totals(page: str) -> dict[str, int]:
    pairs = re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", page)
    return {name: int(value) for name, value in pairs}


def _hrefs(page: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'href="([^"]+)"', page)]


def test_anonymous_is_sent_to_login(client: WebClient, seeded: Seeded) -> None:
    for path in ["/dashboard", *_pages(seeded), "/dashboard/nobody"]:
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=/dashboard")
    response = client.get("/dashboard/daily?days=7")
    assert response.headers["location"] == "/login?next=/dashboard/daily%3Fdays%3D7"


def test_access_matrix(client: WebClient, seeded: Seeded) -> None:
    login(client, "editor@daily.example")
    assert client.get("/dashboard").headers["location"] == "/dashboard/daily"
    for path in _pages(seeded):
        assert client.get(path).status_code == 200, path
    for path in _pages(seeded, "harbor"):
        assert client.get(path).status_code == 403, path
    assert client.get("/dashboard/nobody").status_code == 404
    assert client.get(f"/dashboard/daily/stories/{seeded.story_c}").status_code == 404
    login(client, "editor@harbor.example")
    assert client.get("/dashboard/daily").status_code == 403
    assert client.get(f"/dashboard/harbor/stories/{seeded.story_c}").status_code == 200
    login(client, "admin@newsroom.example")
    picker = client.get("/dashboard")
    assert picker.status_code == 200
    assert {"/dashboard/daily", "/dashboard/harbor"} <= set(_hrefs(picker.text))
    for path in [*_pages(seeded), f"/dashboard/harbor/stories/{seeded.story_c}"]:
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize("days", ["1", "31", "abc", "-7", "0"])
def test_unknown_period_is_400(client: WebClient, seeded: Seeded, days: str) -> None:
    login(client, "editor@daily.example")
    assert client.get(f"/dashboard/daily?days={days}").status_code == 400


def test_overview_shows_the_rolled_up_numbers(client: WebClient, seeded: Seeded) -> None:
    login(client, "editor@daily.example")
    page = client.get("/dashboard/daily").text
    api = client.get("/api/v1/stats/daily/overview").json()
    assert _totals(page) == {
        "Views": 12, "Readers": 12, "Republishing sites": 2, "Bots": 1, "Previews": 0,
    }  # fmt: skip
    assert _totals(page)["Views"] == api["totals"]["views"]
    svg = _svg(page)
    assert svg.get("role") == "img"
    labelled = (svg.get("aria-labelledby") or "").split()
    ids = {element.get("id") for element in svg.iter()}
    assert labelled and set(labelled) <= ids
    bars = svg.findall(f"{SVG}rect")
    assert len(bars) == 30
    titles = [bar.findtext(f"{SVG}title") for bar in bars]
    today = datetime.now(UTC).date()
    assert titles[-1] == f"{today.isoformat()}: 3 views"
    assert "12 views in total" in (svg.findtext(f"{SVG}desc") or "")
    # The same numbers as a table (for screen readers and without the chart).
    assert f'<td>{today.isoformat()}</td><td class="num">3</td>' in page
    # Headlines from outside are escaped, and link to their story page.
    assert str(escape(FORMULA_HEADLINE)) in page and FORMULA_HEADLINE not in page
    links = _hrefs(page)
    assert f"/dashboard/daily/stories/{seeded.story_a}?days=30" in links
    assert "/dashboard/daily/sites/paper-one.example?days=30" in links
    assert "<script" not in page.lower() and "style=" not in page


def test_every_csv_link_downloads(client: WebClient, seeded: Seeded) -> None:
    login(client, "editor@daily.example")
    pages = [client.get(path).text for path in _pages(seeded)]
    csv_links = {link for page in pages for link in _hrefs(page) if "format=csv" in link}
    assert len(csv_links) >= 8
    for link in csv_links:
        response = client.get(link)
        assert response.status_code == 200, link
        assert response.headers["content-type"].startswith("text/csv"), link
        assert response.headers["content-disposition"].startswith("attachment;"), link


def test_story_page_lists_where_it_ran(client: WebClient, seeded: Seeded) -> None:
    login(client, "editor@daily.example")
    page = client.get(f"/dashboard/daily/stories/{seeded.story_a}?days=90").text
    assert "<h1>Ferry returns to Gull Island</h1>" in page
    links = _hrefs(page)
    assert "https://paper-one.example/news/ferry" in links
    assert "https://old-paper.example/x" in links  # all-time republications
    assert 'rel="nofollow noopener noreferrer"' in page
    old_hit = (NOW - timedelta(days=45)).strftime("%Y-%m-%d %H:%M UTC")
    assert f'<td class="when">{old_hit}</td><td class="when">{old_hit}</td>' in page
    assert len(_svg(page).findall(f"{SVG}rect")) == 90
    assert "/dashboard/daily/sites/paper-one.example?days=90" in links


def test_site_page_lists_the_stories_it_ran(client: WebClient, seeded: Seeded) -> None:
    login(client, "editor@daily.example")
    page = client.get("/dashboard/daily/sites/paper-two.example?days=7").text
    assert "<h1>paper-two.example</h1>" in page
    assert f"/dashboard/daily/stories/{seeded.story_b}?days=7" in _hrefs(page)
    assert seeded.story_a not in page
    assert len(_svg(page).findall(f"{SVG}rect")) == 7


def test_markup_in_a_headline_is_text(client: WebClient, db: Database, seeded: Seeded) -> None:
    headline = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    extracted = Extracted(
        headline=headline, canonical_url="https://daily.example/tricky",
        body_html="<p>b</p>", body_text="b",
    )  # fmt: skip
    with db.begin() as conn:
        story, _ = stories.save_story(conn, 1, extracted, "push", datetime.now(UTC))
    login(client, "editor@daily.example")
    page = client.get(f"/dashboard/daily/stories/{story.id}").text
    assert "<script>" not in page and "<img" not in page
    assert str(escape(headline)) in page


def test_dashboard_headers(client: WebClient, seeded: Seeded) -> None:
    login(client, "editor@daily.example")
    response = client.get("/dashboard/daily")
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert '<meta name="robots" content="noindex">' in response.text
    css = client.get("/static/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_chart_axes_and_escaping() -> None:
    start = date(2026, 3, 1)
    points = [(start + timedelta(days=n), value) for n, value in enumerate([0, 3, 17, 2])]
    svg = ElementTree.fromstring(str(daily_bars(points, chart_id="c", title="A <b> & c")))
    assert svg.findtext(f"{SVG}title") == "A <b> & c"
    labels = [text.text for text in svg.iter(f"{SVG}text")]
    # Y axis 0..20 in steps of 5; x axis first, middle and last day.
    assert labels == ["0", "5", "10", "15", "20", "Mar 1", "Mar 3", "Mar 4"]
    heights = [float(rect.get("height") or 0) for rect in svg.iter(f"{SVG}rect")]
    assert heights[0] == 0 and heights[2] == max(heights)
    assert heights[1] == pytest.approx(heights[2] * 3 / 17, rel=0.01)
    empty = ElementTree.fromstring(str(daily_bars([], chart_id="e", title="None")))
    assert empty.findtext(f"{SVG}desc") == "No days in this period."


@pytest.mark.parametrize(
    ("peak", "step"), [(0, 1), (4, 1), (5, 2), (17, 5), (40, 10), (99, 25), (12345, 5000)]
)
def test_nice_step(peak: int, step: int) -> None:
    assert nice_step(peak) == step
    assert step * 4 >= peak
