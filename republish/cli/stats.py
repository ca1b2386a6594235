"""``republish rollup`` and ``republish stats``: count hits and show where stories ran."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from republish.cli import cli
from republish.cli._common import get_settings, open_db, stop_on_signals
from republish.cli.notify import echo_delivery
from republish.config import Settings
from republish.stats import queries
from republish.stats.rollup import RollupResult
from republish.stats.rollup import rollup as run_rollup
from republish.store.db import Database
from republish.store.publishers import get_publisher


@cli.command()
@click.option(
    "--watch",
    "interval_s",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Keep running, rolling up every SECONDS (for a rollup process of its own); "
    "stops on Ctrl+C or SIGTERM after a last pass.",
)
@click.option(
    "--retention-days",
    type=click.IntRange(min=0),
    default=7,
    show_default=True,
    help="Remove rolled-up hit log segments older than this.",
)
@click.pass_context
def rollup(ctx: click.Context, interval_s: float | None, retention_days: int) -> None:
    """Add new hits from the hit log to the statistics (safe to run any time)."""
    from republish.notify import deliver_due

    settings = get_settings(ctx)
    db = open_db(settings)
    log_dir = Path(settings.hit_log_dir)
    retention = timedelta(days=retention_days)
    if interval_s is not None:
        _watch(db, settings, log_dir, retention, interval_s)
        return
    click.echo(_rolled_up(run_rollup(db, log_dir, retention=retention)))
    # Notifications for new republishers were queued with the counts; send them now.
    echo_delivery(deliver_due(db, settings))


def _rolled_up(result: RollupResult) -> str:
    return (
        f"Rolled up {result.hits} hits from {result.segments_read} segments"
        + (f", skipped {result.damaged} damaged lines" if result.damaged else "")
        + (f", removed {result.segments_removed} old segments" if result.segments_removed
           else "")
        + "."
    )  # fmt: skip


def _watch(
    db: Database, settings: Settings, log_dir: Path, retention: timedelta, interval_s: float
) -> None:
    """Roll up every ``interval_s`` until a signal, in the workers ``republish serve`` runs:
    a failed pass (the database down) is reported and retried, never the end of the process;
    notifications go out from a thread of their own."""
    from republish.notify.worker import DeliveryWorker
    from republish.stats.worker import RollupWorker

    sender = DeliveryWorker(db, settings, interval_s=max(interval_s, 30.0), on_result=echo_delivery)

    def after_pass(result: RollupResult | None) -> None:
        if result is not None and (result.hits or result.damaged or result.segments_removed):
            click.echo(_rolled_up(result))
        sender.wake()

    worker = RollupWorker(
        db,
        log_dir,
        interval_s=interval_s,
        retention=retention,
        after_pass=after_pass,
        tick_first=True,
    )
    click.echo(f"Rolling up {log_dir} every {interval_s:g} s (Ctrl+C or SIGTERM to stop).")
    with stop_on_signals("a last pass") as stop:
        sender.start()
        worker.start()
        stop.wait()
        worker.stop()
        sender.stop()
    click.echo(f"Stopped after {worker.passes} passes ({worker.failures} failed).")


@cli.command()
@click.option("--publisher", "slug", required=True, help="Publisher slug.")
@click.option("--days", type=click.IntRange(1, 3660), default=30, show_default=True,
              help="Length of the period, ending today.")  # fmt: skip
@click.option("--story", "story_id", help="Show one story: its republications.")
@click.option("--site", help="Show one republishing site: the stories it ran.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (as the stats API does).")
@click.pass_context
def stats(
    ctx: click.Context,
    slug: str,
    days: int,
    story_id: str | None,
    site: str | None,
    as_json: bool,
) -> None:
    """Show views and where stories ran (reads the rollups; run `republish rollup` first)."""
    db = open_db(get_settings(ctx))
    today = datetime.now(UTC).date()
    period = queries.Period.last(days, today)
    with db.connect() as conn:
        publisher = get_publisher(conn, slug)
        assert publisher.id is not None
        report: dict[str, Any] = {
            "publisher": slug,
            "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
        }
        if story_id:
            report["story_id"] = story_id
            report["views_per_day"] = queries.views_per_day(conn, publisher.id, period, story_id)
            report["republications"] = queries.story_republications(conn, story_id)
        elif site:
            report["site"] = site
            report["views_per_day"] = queries.views_per_day(conn, publisher.id, period, site=site)
            report["stories"] = queries.republisher_stories(conn, publisher.id, site, period)
        else:
            report["totals"] = queries.totals(conn, publisher.id, period)
            report["views_per_day"] = queries.views_per_day(conn, publisher.id, period)
            report["top_stories"] = queries.top_stories(conn, publisher.id, period)
            report["top_republishers"] = queries.top_republishers(conn, publisher.id, period)
            week_ago = datetime.now(UTC) - timedelta(days=7)
            report["new_republishers"] = queries.new_republishers(conn, publisher.id, week_ago)
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    _print(report)


def _table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column.replace("_", " "), justify="right" if column in {
            "views", "readers", "stories", "republishers"} else "left")  # fmt: skip
    for row in rows:
        table.add_row(*(str(row.get(column, "")) for column in columns))
    if not rows:
        table.add_row(*(["-"] * len(columns)))
    return table


def _print(report: dict[str, Any]) -> None:
    # Not a terminal (a pipe, a file): do not cut URLs to 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 200)
    period = report["period"]
    console.print(f"[bold]{report['publisher']}[/bold]  {period['start']} to {period['end']}")
    if "totals" in report:
        totals = report["totals"]
        console.print(
            f"views {totals['views']}  readers {totals['readers']}  "
            f"republishing sites {totals['republishers']}  bots {totals['bots']}  "
            f"previews {totals['previews']}"
        )
        console.print(
            _table(
                "Top stories",
                report["top_stories"],
                ["story_id", "headline", "views", "readers", "republishers"],
            )
        )
        console.print(
            _table(
                "Top republishers",
                report["top_republishers"],
                ["site", "views", "readers", "stories"],
            )
        )
        console.print(
            _table(
                "New republishers (7 days)",
                report["new_republishers"],
                ["site", "first_seen", "stories"],
            )
        )
    if "republications" in report:
        console.print(
            _table(
                f"Where story {report['story_id']} ran",
                report["republications"],
                ["page_url", "first_seen", "last_seen", "views"],
            )
        )
    if "stories" in report:
        console.print(
            _table(
                f"Stories run by {report['site']}",
                report["stories"],
                ["story_id", "headline", "views", "readers"],
            )
        )
    busy = [day for day in report["views_per_day"] if day["views"]]
    console.print(_table("Views per day (days with views)", busy, ["day", "views", "readers"]))
