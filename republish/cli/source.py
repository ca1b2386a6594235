"""``republish source`` and ``republish watch``: where a publisher's stories come from."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from republish.cli import cli
from republish.cli._common import get_settings, open_db, stop_on_signals
from republish.ingest.poll import PollSummary
from republish.ingest.schedule import (
    DEFAULT_INTERVAL_S,
    InvalidSource,
    add_source,
    format_interval,
    parse_interval,
    poll_due,
)
from republish.ingest.sources import SOURCE_KINDS
from republish.models import Source
from republish.store import publishers as publisher_store
from republish.store import sources as source_store


def summary_line(summary: PollSummary) -> str:
    """The counts of one poll on one line."""
    if summary.not_modified:
        return "not modified (nothing new since the last read)"
    counts = summary.counts()
    parts = [f"{counts[name]} {name}" for name in ("new", "updated", "unchanged")]
    parts += [f"{counts[name]} {name}" for name in ("withdrawn", "refused", "failed")]
    if summary.restored:
        parts.append(f"{summary.restored} offered again")
    return ", ".join(parts)


def echo_problems(summary: PollSummary, limit: int = 20) -> None:
    """Refused and failed entries with their reasons (the first ``limit`` of each), to stderr."""
    for label, items in (("refused", summary.refused), ("failed", summary.failed)):
        for url, reason in items[:limit]:
            click.echo(f"  {label}: {url}: {reason}", err=True)
        if len(items) > limit:
            click.echo(f"  ... and {len(items) - limit} more {label}", err=True)


def _source_json(source: Source, slug: str) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": source.id,
        "publisher": slug,
        "kind": source.kind,
        "url": source.url,
        "every": format_interval(source.interval_s),
        "last_polled_at": iso(source.last_polled_at),
        "next_poll_at": iso(source.next_poll_at),
        "last_result": source.last_result,
        "last_error": source.last_error,
    }


@cli.group()
def source() -> None:
    """Manage the sources a publisher's stories are read from (feeds, WordPress, sitemaps)."""


@source.command("add")
@click.argument("url")
@click.option("--publisher", "publisher_slug", required=True, help="Slug of the publisher.")
@click.option(
    "--kind",
    type=click.Choice(SOURCE_KINDS),
    required=True,
    help="feed (RSS/Atom), wordpress (site URL), sitemap, or url (one page).",
)
@click.option(
    "--every",
    default=format_interval(DEFAULT_INTERVAL_S),
    show_default=True,
    help="How often to poll it: 90s, 15m, 2h, 1d (1 minute to 7 days).",
)
@click.pass_context
def add(ctx: click.Context, url: str, publisher_slug: str, kind: str, every: str) -> None:
    """Register a source for a publisher; `republish watch` (or `serve`) polls it."""
    try:
        interval_s = parse_interval(every)
        db = open_db(get_settings(ctx))
        created = add_source(db, publisher_slug, kind, url, interval_s)
    except InvalidSource as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Added {created.kind} source {created.id} for {publisher_slug}: {created.url} "
        f"(every {format_interval(created.interval_s)})."
    )


@source.command("list")
@click.option("--publisher", "publisher_slug", help="Only this publisher's sources.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
@click.pass_context
def list_(ctx: click.Context, publisher_slug: str | None, as_json: bool) -> None:
    """List sources: id, publisher, kind, interval, URL, last poll and its result."""
    db = open_db(get_settings(ctx))
    with db.connect() as conn:
        publisher_id = None
        if publisher_slug is not None:
            publisher_id = publisher_store.get_publisher(conn, publisher_slug).id
        found = source_store.list_sources(conn, publisher_id)
        slugs = {p.id: p.slug for p in publisher_store.list_publishers(conn)}
    if as_json:
        items = [_source_json(item, slugs[item.publisher_id]) for item in found]
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo("No sources yet: add one with `republish source add --publisher SLUG ...`.")
        return
    for item in found:
        if item.last_error:
            status = f"error: {item.last_error}"
        elif item.last_result is not None:
            status = ", ".join(f"{v} {k}" for k, v in item.last_result.items() if v)
            status = status or "nothing new"
        else:
            status = "not polled yet"
        polled = item.last_polled_at.strftime("%Y-%m-%d %H:%M") if item.last_polled_at else "-"
        click.echo(
            f"{item.id}\t{slugs[item.publisher_id]}\t{item.kind}\t"
            f"{format_interval(item.interval_s)}\t{item.url}\t{polled}\t{status}"
        )


@source.command("remove")
@click.argument("source_id", type=int)
@click.pass_context
def remove(ctx: click.Context, source_id: int) -> None:
    """Stop polling a source (its stories stay)."""
    db = open_db(get_settings(ctx))
    with db.begin() as conn:
        source_store.remove_source(conn, source_id)
    click.echo(f"Removed source {source_id}.")


@cli.command("watch")
@click.option("--publisher", "publisher_slug", help="Only this publisher's sources.")
@click.option("--once", is_flag=True, help="Poll the sources that are due, then exit.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 32),
    default=2,
    show_default=True,
    help="Sources polled at the same time.",
)
@click.pass_context
def watch(ctx: click.Context, publisher_slug: str | None, once: bool, concurrency: int) -> None:
    """Poll sources when they are due, until stopped (SIGINT or SIGTERM stop it cleanly).

    Prints one line per poll; the exit status is non-zero when --once saw a source fail.
    """
    settings = get_settings(ctx)
    db = open_db(settings)
    publisher_id = None
    if publisher_slug is not None:
        with db.connect() as conn:
            publisher_id = publisher_store.get_publisher(conn, publisher_slug).id
    failures = 0

    def report(item: Source, summary: PollSummary | None, error: str | None) -> None:
        nonlocal failures
        where = f"source {item.id} ({item.kind} {item.url})"
        if summary is not None:
            click.echo(f"{where}: {summary_line(summary)}")
            echo_problems(summary)
        else:
            failures += 1
            click.echo(f"Error: {where}: {error}", err=True)

    with stop_on_signals("the current poll") as stop:
        while not stop.is_set():
            polled = poll_due(
                db, settings, publisher_id=publisher_id, concurrency=concurrency, report=report
            )
            if once:
                if polled == 0:
                    click.echo("No source is due.")
                break
            with db.connect() as conn:
                due = source_store.next_due_at(conn, publisher_id)
            wait = 60.0 if due is None else (due - datetime.now(UTC)).total_seconds()
            stop.wait(min(max(wait, 1.0), 60.0))
    if once and failures:
        ctx.exit(1)
