"""The dashboard: server-rendered pages of a publisher's statistics, behind login.

No scripts (the pages' Content-Security-Policy allows none): charts are inline SVG
drawn in Python, each with the same numbers in a table and a CSV download.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from republish.ingest.revisions import diff_revisions
from republish.models import Publisher, Revision
from republish.stats import queries
from republish.store import publishers as publisher_store
from republish.store import stories as story_store
from republish.store.errors import NotFound
from republish.store.users import User
from republish.web import pages
from republish.web._http import db_of
from republish.web.auth import NO_STORE, csrf_token, current_user, login_redirect, may_see
from republish.web.charts import daily_bars
from republish.web.stats_api import (
    overview_report,
    parse_days,
    publisher_story,
    republications_report,
    site_report,
)

PERIODS = (7, 30, 90)
DEFAULT_DAYS = 30

CSS = """\
main { max-width: 72rem; }
.dash-header { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between;
  gap: 0.5rem; }
.dash-header .site-name { margin: 0; }
.dash-header .site-name a { color: #1b1b1b; text-decoration: none; }
.logout { display: flex; align-items: center; gap: 0.75rem; margin: 0; }
button { font: inherit; padding: 0.35rem 0.9rem; border: 1px solid #0b5394; border-radius: 4px;
  background: #0b5394; color: #ffffff; cursor: pointer; }
button:hover, button:focus { background: #073763; }
.login { max-width: 24rem; }
.login input { display: block; width: 100%; font: inherit; padding: 0.4rem; margin-bottom: 0.75rem;
  border: 1px solid #6b7280; border-radius: 4px; }
.error { color: #9b1c1c; background: #fdecec; padding: 0.5rem 0.75rem; border-radius: 4px; }
.crumbs, .period { color: #374151; margin: 0.25rem 0; }
.periods ul { list-style: none; padding: 0; display: flex; gap: 0.75rem; }
.periods a[aria-current] { font-weight: 700; color: #1b1b1b; }
.totals { display: flex; flex-wrap: wrap; gap: 1rem; margin: 0; }
.totals div { border: 1px solid #d1d5db; border-radius: 4px; padding: 0.5rem 1rem;
  min-width: 9rem; }
.totals dt { font-size: 0.9rem; color: #374151; }
.totals dd { margin: 0; font-size: 1.6rem; font-weight: 700; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0; }
caption { text-align: left; font-weight: 600; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid #d1d5db;
  vertical-align: top; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
td.url { overflow-wrap: anywhere; }
.when { white-space: nowrap; }
.chart-box { margin: 0.5rem 0; }
.chart { display: block; max-width: 100%; height: auto; }
.csv { margin: 0.25rem 0 1rem; }
.slug { color: #374151; }
"""


def when(iso: str | None) -> str:
    """An ISO time from the API as ``2026-03-07 14:30 UTC`` (it is stored in UTC)."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _days(request: Request) -> int | None:
    days = parse_days(request.query_params.get("days"), DEFAULT_DAYS)
    return days if days in PERIODS else None


def _render(request: Request, name: str, user: User, **context: Any) -> Response:
    response = pages.page(name, user=user, csrf=csrf_token(request), noindex=True, **context)
    response.headers.update(NO_STORE)
    return response


def _chart(rows: list[dict[str, Any]], chart_id: str, title: str) -> Any:
    points = [(date.fromisoformat(row["day"]), int(row["views"])) for row in rows]
    return daily_bars(points, chart_id=chart_id, title=title)


def _bad_period() -> Response:
    choices = ", ".join(str(days) for days in PERIODS)
    return pages.error_page(400, "Unknown period", f"Choose a period of {choices} days.")


def _viewer(request: Request) -> tuple[User, Publisher, int] | Response:
    """The user, the publisher of the path and the period; or the page to answer instead."""
    user = current_user(request)
    if user is None:
        return login_redirect(request)
    slug = request.path_params["slug"]
    with db_of(request).connect() as conn:
        try:
            publisher = publisher_store.get_publisher(conn, slug)
        except NotFound:
            publisher = None
    if publisher is None:
        return pages.error_page(404, "Publisher not found", "There is no publisher here.")
    if not may_see(user, publisher):
        return pages.error_page(
            403, "Not yours", "Your account does not give access to this publisher."
        )
    days = _days(request)
    if days is None:
        return _bad_period()
    return user, publisher, days


def _paths(publisher: Publisher) -> dict[str, str]:
    slug = quote(publisher.slug, safe="")
    return {"base": f"/dashboard/{slug}", "api": f"/api/v1/stats/{slug}"}


def home(request: Request) -> Response:
    """``/dashboard``: the publisher picker for administrators, else one's own publisher."""
    user = current_user(request)
    if user is None:
        return login_redirect(request)
    if not user.is_admin:
        target = f"/dashboard/{quote(user.publisher_slug or '', safe='')}"
        return RedirectResponse(target, 303, headers=NO_STORE)
    with db_of(request).connect() as conn:
        found = publisher_store.list_publishers(conn)
    return _render(request, "dashboard/picker.html", user, title="Publishers", publishers=found)


def overview(request: Request) -> Response:
    """``/dashboard/{slug}?days=``: totals, views per day, top stories and republishers."""
    viewer = _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    user, publisher, days = viewer
    period = queries.Period.last(days, datetime.now(UTC).date())
    with db_of(request).connect() as conn:
        report = overview_report(conn, publisher, period)
    new_republishers = [
        {**row, "first_seen": when(row["first_seen"])} for row in report["new_republishers"]
    ]
    return _render(
        request,
        "dashboard/overview.html",
        user,
        title=publisher.name,
        publisher=publisher,
        report=report,
        new_republishers=new_republishers,
        days=days,
        chart=_chart(report["views_per_day"], "views", f"Views per day, last {days} days"),
        **_paths(publisher),
    )


#: Revisions whose changes the story page shows (the newest ones).
SHOWN_REVISIONS = 20


def _diff_lines(diff: str) -> list[tuple[str, str]]:
    """(kind, text) per line of a unified diff: "ins", "del", "hunk" or "" (context)."""
    lines = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            continue
        kind = {"+": "ins", "-": "del", "@": "hunk"}.get(line[:1], "")
        lines.append((kind, line[1:] if kind in {"ins", "del"} else line))
    return lines


def _revision_rows(revisions: list[Revision]) -> list[dict[str, Any]]:
    """The newest revisions, newest first, each with what changed since the one before."""
    rows = []
    previous: dict[int, Revision] = {r.revision + 1: r for r in revisions}
    for revision in reversed(revisions[-SHOWN_REVISIONS:]):
        before = previous.get(revision.revision)
        diff = diff_revisions(before, revision) if before is not None else None
        rows.append(
            {
                "revision": revision.revision,
                "when": when(revision.created_at.isoformat() if revision.created_at else None),
                "source": revision.source,
                "headline": _diff_lines(diff.headline) if diff else [],
                "body": _diff_lines(diff.body) if diff else [],
            }
        )
    return rows


def story_page(request: Request) -> Response:
    """``/dashboard/{slug}/stories/{story_id}``: a story's views and where it ran."""
    viewer = _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    user, publisher, days = viewer
    assert publisher.id is not None
    period = queries.Period.last(days, datetime.now(UTC).date())
    with db_of(request).connect() as conn:
        story = publisher_story(conn, publisher, request.path_params["story_id"])
        if story is None:
            return pages.error_page(404, "Story not found", "This publisher has no such story.")
        views = queries.views_per_day(conn, publisher.id, period, story.id)
        report = republications_report(conn, publisher, story)
        revisions = story_store.list_revisions(conn, story.id)
    rows = [
        {
            **row,
            "first_seen": when(row["first_seen"]),
            "last_seen": when(row["last_seen"]),
            "linkable": row["page_url"].startswith(("https://", "http://")),
        }
        for row in report["republications"]
    ]
    paths = _paths(publisher)
    return _render(
        request,
        "dashboard/story.html",
        user,
        title=story.headline,
        publisher=publisher,
        story=story,
        period=period,
        days=days,
        views=views,
        chart=_chart(views, "story-views", f"Views per day of this story, last {days} days"),
        republications=rows,
        revisions=_revision_rows(revisions),
        withdrawn_at=when(story.withdrawn_at.isoformat()) if story.withdrawn_at else "",
        here=f"{paths['base']}/stories/{quote(story.id, safe='')}",
        **paths,
    )


def site_page(request: Request) -> Response:
    """``/dashboard/{slug}/sites/{site}``: one republisher's views and the stories it ran."""
    viewer = _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    user, publisher, days = viewer
    site = request.path_params["site"]
    period = queries.Period.last(days, datetime.now(UTC).date())
    with db_of(request).connect() as conn:
        report = site_report(conn, publisher, site, period)
    paths = _paths(publisher)
    return _render(
        request,
        "dashboard/site.html",
        user,
        title=site,
        publisher=publisher,
        site=site,
        period=period,
        days=days,
        views=report["views_per_day"],
        chart=_chart(report["views_per_day"], "site-views", f"Views per day on {site}"),
        stories=report["stories"],
        here=f"{paths['base']}/sites/{quote(site, safe='')}",
        **paths,
    )


def stylesheet(request: Request) -> Response:
    """The dashboard's stylesheet (on top of the pages' one)."""
    return pages.css_response(CSS)


def routes() -> list[BaseRoute]:
    """The dashboard pages."""
    return [
        Route("/dashboard", home, methods=["GET"]),
        Route("/dashboard/{slug}", overview, methods=["GET"]),
        Route("/dashboard/{slug}/stories/{story_id}", story_page, methods=["GET"]),
        Route("/dashboard/{slug}/sites/{site}", site_page, methods=["GET"]),
        Route("/static/dashboard.css", stylesheet, methods=["GET"]),
    ]
