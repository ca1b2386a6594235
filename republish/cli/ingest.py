"""``republish ingest``: extract stories from pages and store them for a publisher."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from republish.cli import cli
from republish.cli._common import get_settings, open_db
from republish.cli.extract import is_url
from republish.cli.source import echo_problems, summary_line
from republish.ingest.poll import one_off_source, poll_source
from republish.ingest.run import IngestError, IngestResult, ingest_file, ingest_url
from republish.ingest.schedule import InvalidSource, check_source
from republish.ingest.sources import SourceError
from republish.store import publishers as publisher_store
from republish.store.errors import NotFound


def _line(value: str, result: IngestResult) -> str:
    verdict = (
        "republishable"
        if result.decision.republishable
        else f"not republishable: {result.decision.reason}"
    )
    story = result.story
    return f"{result.status}\t{story.id}\trev {story.revision}\t{verdict}\t{value}"


def _progress_console(quiet: bool) -> Console | None:
    console = Console(stderr=True)
    return None if quiet or not console.is_terminal else console


def _ingest_source(
    ctx: click.Context, publisher_slug: str, kind: str, source_url: str, quiet: bool
) -> None:
    settings = get_settings(ctx)
    db = open_db(settings)
    try:
        source_url = check_source(kind, source_url)
    except InvalidSource as exc:
        raise click.ClickException(str(exc)) from exc
    with db.connect() as conn:
        try:
            publisher = publisher_store.get_publisher(conn, publisher_slug)
        except NotFound:
            raise click.ClickException(f"unknown publisher {publisher_slug!r}") from None
    assert publisher.id is not None
    source = one_off_source(publisher.id, kind, source_url)
    console = _progress_console(quiet)
    try:
        if console is None:
            summary = poll_source(db, settings, source)
        else:
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
            )
            with Progress(*columns, console=console, transient=True) as bar:
                task = bar.add_task(f"Reading {kind}", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total, description="Storing stories")

                summary = poll_source(db, settings, source, progress=progress)
    except SourceError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{kind} {source_url}: {summary_line(summary)}")
    echo_problems(summary, limit=50)
    if summary.failed:
        ctx.exit(1)


@cli.command("ingest")
@click.argument("inputs", nargs=-1, metavar="[FILE_OR_URL...]")
@click.option(
    "--publisher",
    "publisher_slug",
    required=True,
    envvar="REPUBLISH_PUBLISHER",
    help="Slug of the publisher the stories belong to.",
)
@click.option(
    "--url",
    help="Canonical URL of the story in a single file (when the file names none, or to "
    "override it).",
)
@click.option("--feed", "feed_url", metavar="URL", help="Read every story of an RSS/Atom feed.")
@click.option("--sitemap", "sitemap_url", metavar="URL", help="Read every page of a sitemap.")
@click.option(
    "--wordpress", "wordpress_url", metavar="URL", help="Read every post of a WordPress site."
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar (none without a terminal).")
@click.pass_context
def ingest_command(
    ctx: click.Context,
    inputs: tuple[str, ...],
    publisher_slug: str,
    url: str | None,
    feed_url: str | None,
    sitemap_url: str | None,
    wordpress_url: str | None,
    quiet: bool,
) -> None:
    """Extract stories from pages (files or URLs), or read a whole source once, and store
    them for a publisher.

    For pages, prints one line per input: new, updated (a new revision) or unchanged; the
    story id and revision; and whether the story may be republished, or why not. An input
    that fails prints a one-line error, stores nothing, and makes the exit status non-zero.

    With --feed, --sitemap or --wordpress, reads that source once (without registering
    it; see `republish source add`), shows a progress bar on a terminal, and prints how
    many stories were new, updated, unchanged, withdrawn, refused (not on the publisher's
    domains) and failed, with the reason for each refused or failed one.
    """
    chosen = [
        (kind, value)
        for kind, value in (
            ("feed", feed_url),
            ("sitemap", sitemap_url),
            ("wordpress", wordpress_url),
        )
        if value is not None
    ]
    if len(chosen) > 1 or (chosen and (inputs or url is not None)):
        raise click.UsageError("give pages, or one of --feed, --sitemap, --wordpress")
    if chosen:
        _ingest_source(ctx, publisher_slug, chosen[0][0], chosen[0][1], quiet)
        return
    if not inputs:
        raise click.UsageError("give FILE_OR_URL..., or one of --feed, --sitemap, --wordpress")
    if url is not None and (len(inputs) != 1 or is_url(inputs[0])):
        raise click.UsageError("--url applies to a single file input")
    settings = get_settings(ctx)
    db = open_db(settings)
    failed = False
    for value in inputs:
        try:
            if is_url(value):
                result = ingest_url(db, settings, publisher_slug, value)
            else:
                result = ingest_file(db, publisher_slug, Path(value), url)
        except IngestError as exc:
            if len(inputs) == 1:
                raise click.ClickException(str(exc)) from exc
            click.echo(f"Error: {value}: {exc}", err=True)
            failed = True
            if str(exc).startswith("unknown publisher"):
                break
            continue
        click.echo(_line(value, result))
    if failed:
        ctx.exit(1)
