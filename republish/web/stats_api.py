"""The statistics API under ``/api/v1/stats/{slug}``: JSON, or CSV with ``?format=csv``.

Readable with a dashboard session, the admin token or the publisher's own API token.
Every number comes from :mod:`republish.stats.queries` (the rollups), so the API, the
dashboard and ``republish stats`` agree.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from republish.models import Publisher, Story
from republish.stats import queries
from republish.store import stories as story_store
from republish.store.errors import NotFound
from republish.web._http import BASE_HEADERS, db_of, fail, json_response
from republish.web.auth import stats_publisher

MAX_DAYS = 3660
DEFAULT_DAYS = 30
MAX_ROWS = 1000
PRIVATE = {"Cache-Control": "private, no-store"}
#: A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")

COLUMNS: dict[str, list[str]] = {
    "overview": ["start", "end", "views", "readers", "republishers", "bots", "previews"],
    "views": ["day", "views", "readers"],
    "stories": ["story_id", "headline", "views", "readers", "republishers"],
    "republishers": ["site", "views", "readers", "stories"],
    "new_republishers": ["site", "first_seen", "stories"],
    "republications": ["page_url", "site", "first_seen", "last_seen", "views"],
    "site_stories": ["story_id", "headline", "views", "readers"],
}


def parse_days(raw: str | None, default: int = DEFAULT_DAYS) -> int | None:
    """The number of days asked for, or None when it is not 1 to :data:`MAX_DAYS`."""
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 5:
        return None
    days = int(raw)
    return days if 1 <= days <= MAX_DAYS else None


def period_of(request: Request) -> queries.Period:
    """The period of ``?days=`` ending today (UTC); 400 for a bad value."""
    days = parse_days(request.query_params.get("days"))
    if days is None:
        fail(400, f"days: expected a whole number from 1 to {MAX_DAYS}")
    return queries.Period.last(days, datetime.now(UTC).date())


def _period_json(period: queries.Period) -> dict[str, str]:
    return {"start": period.start.isoformat(), "end": period.end.isoformat()}


def publisher_story(conn: sa.Connection, publisher: Publisher, story_id: str) -> Story | None:
    """The publisher's story with this id, or None."""
    try:
        story = story_store.get_story(conn, story_id)
    except NotFound:
        return None
    return story if story.publisher_id == publisher.id else None


# Reports: what each endpoint returns, shared with the dashboard -----------------------


def overview_report(conn: sa.Connection, publisher: Publisher, period: queries.Period) -> Any:
    """The overview, as ``republish stats --json`` prints it."""
    assert publisher.id is not None
    return {
        "publisher": publisher.slug,
        "period": _period_json(period),
        **queries.overview(conn, publisher.id, period, datetime.now(UTC)),
    }


def stories_report(conn: sa.Connection, publisher: Publisher, period: queries.Period) -> Any:
    """Stories with views over the period, most viewed first."""
    assert publisher.id is not None
    found = queries.top_stories(conn, publisher.id, period, limit=MAX_ROWS)
    return {"publisher": publisher.slug, "period": _period_json(period), "stories": found}


def republishers_report(conn: sa.Connection, publisher: Publisher, period: queries.Period) -> Any:
    """Republishing sites with views over the period, most viewed first."""
    assert publisher.id is not None
    found = queries.top_republishers(conn, publisher.id, period, limit=MAX_ROWS)
    return {"publisher": publisher.slug, "period": _period_json(period), "republishers": found}


def site_report(
    conn: sa.Connection, publisher: Publisher, site: str, period: queries.Period
) -> Any:
    """What one site ran over the period: views per day and its stories."""
    assert publisher.id is not None
    return {
        "publisher": publisher.slug,
        "period": _period_json(period),
        "site": site,
        "views_per_day": queries.views_per_day(conn, publisher.id, period, site=site),
        "stories": queries.republisher_stories(conn, publisher.id, site, period),
    }


def republications_report(conn: sa.Connection, publisher: Publisher, story: Story) -> Any:
    """Every page a story ran on."""
    return {
        "publisher": publisher.slug,
        "story_id": story.id,
        "headline": story.headline,
        "republications": queries.story_republications(conn, story.id),
    }


# Responses ---------------------------------------------------------------------------


def safe_cell(value: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula (text from outside)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_text(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """``rows`` as CSV with a header row, formula-like cells neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(row.get(column, "")) for column in columns])
    return out.getvalue()


def csv_filename(*parts: str) -> str:
    """A file name made of ``parts`` with only safe characters."""
    name = "-".join(_UNSAFE_FILENAME.sub("_", part).strip("_") or "x" for part in parts)
    return name[:150] + ".csv"


def _wants_csv(request: Request) -> bool:
    wanted = request.query_params.get("format", "json")
    if wanted not in {"json", "csv"}:
        fail(400, "format: expected json or csv")
    return wanted == "csv"


def _respond(
    request: Request, report: dict[str, Any], table: str, rows: list[dict[str, Any]], name: str
) -> Response:
    if not _wants_csv(request):
        return json_response(report, headers=PRIVATE)
    period = report.get("period")
    parts = [report["publisher"], name]
    if isinstance(period, dict):
        parts += [period["start"], period["end"]]
    filename = csv_filename(*parts)
    return Response(
        csv_text(rows, COLUMNS[table]),
        media_type="text/csv; charset=utf-8",
        headers={
            **BASE_HEADERS,
            **PRIVATE,
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


def _endpoint(
    build: Callable[[Request, sa.Connection, Publisher], Response],
) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        _wants_csv(request)
        publisher = stats_publisher(request, request.path_params["slug"])
        with db_of(request).connect() as conn:
            return build(request, conn, publisher)

    handler.__doc__ = build.__doc__
    handler.__name__ = build.__name__
    return handler


def _overview(request: Request, conn: sa.Connection, publisher: Publisher) -> Response:
    """``GET /api/v1/stats/{slug}/overview``."""
    report = overview_report(conn, publisher, period_of(request))
    row = {**report["period"], **report["totals"]}
    return _respond(request, report, "overview", [row], "overview")


def _views(request: Request, conn: sa.Connection, publisher: Publisher) -> Response:
    """``GET /api/v1/stats/{slug}/views?story=&site=``."""
    assert publisher.id is not None
    period = period_of(request)
    story_id = request.query_params.get("story") or None
    site = request.query_params.get("site") or None
    if story_id is not None and publisher_story(conn, publisher, story_id) is None:
        fail(404, f"no story with id {story_id!r} for publisher {publisher.slug!r}")
    report: dict[str, Any] = {"publisher": publisher.slug, "period": _period_json(period)}
    if story_id is not None:
        report["story_id"] = story_id
    if site is not None:
        report["site"] = site
    report["views_per_day"] = queries.views_per_day(conn, publisher.id, period, story_id, site)
    return _respond(request, report, "views", report["views_per_day"], "views")


def _stories(request: Request, conn: sa.Connection, publisher: Publisher) -> Response:
    """``GET /api/v1/stats/{slug}/stories``."""
    report = stories_report(conn, publisher, period_of(request))
    return _respond(request, report, "stories", report["stories"], "stories")


def _republishers(request: Request, conn: sa.Connection, publisher: Publisher) -> Response:
    """``GET /api/v1/stats/{slug}/republishers``."""
    report = republishers_report(conn, publisher, period_of(request))
    return _respond(request, report, "republishers", report["republishers"], "republishers")


def _new_republishers(request: Request, conn: sa.Connection, publisher: Publisher) -> Response:
    """``GET /api/v1/stats/{slug}/new-republishers``: first seen in the last 7 days."""
    assert publisher.id is not None
    since = datetime.now(UTC) - timedelta(days=queries.NEW_REPUBLISHER_DAYS)
    rows = queries.new_republishers(conn, publisher.id, since)
    body = {"publisher": publisher.slug, "days": queries.NEW_REPUBLISHER_DAYS,
            "new_republishers": rows}  # fmt: skip
    return _respond(request, body, "new_republishers", rows, "new-republishers")


def _republications(request: Request, conn: sa.Connection, publisher: Publisher) -> Response:
    """``GET /api/v1/stats/{slug}/stories/{story_id}/republications``."""
    story_id = request.path_params["story_id"]
    story = publisher_story(conn, publisher, story_id)
    if story is None:
        fail(404, f"no story with id {story_id!r} for publisher {publisher.slug!r}")
    report = republications_report(conn, publisher, story)
    rows = report["republications"]
    return _respond(request, report, "republications", rows, f"story-{story.id}")


def _site_stories(request: Request, conn: sa.Connection, publisher: Publisher) -> Response:
    """``GET /api/v1/stats/{slug}/sites/{site}/stories``."""
    site = request.path_params["site"]
    report = site_report(conn, publisher, site, period_of(request))
    return _respond(request, report, "site_stories", report["stories"], f"site-{site}")


def routes() -> list[BaseRoute]:
    """The stats API routes."""
    base = "/api/v1/stats/{slug}"
    return [
        Route(f"{base}/overview", _endpoint(_overview), methods=["GET"]),
        Route(f"{base}/views", _endpoint(_views), methods=["GET"]),
        Route(f"{base}/stories", _endpoint(_stories), methods=["GET"]),
        Route(f"{base}/republishers", _endpoint(_republishers), methods=["GET"]),
        Route(f"{base}/new-republishers", _endpoint(_new_republishers), methods=["GET"]),
        Route(
            f"{base}/stories/{{story_id}}/republications",
            _endpoint(_republications),
            methods=["GET"],
        ),
        Route(f"{base}/sites/{{site}}/stories", _endpoint(_site_stories), methods=["GET"]),
    ]
