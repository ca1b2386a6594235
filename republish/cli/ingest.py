"""``republish ingest``: extract stories from pages and store them for a publisher."""

from __future__ import annotations

from pathlib import Path

import click

from republish.cli import cli
from republish.cli._common import get_settings, open_db
from republish.cli.extract import is_url
from republish.ingest.run import IngestError, IngestResult, ingest_file, ingest_url


def _line(value: str, result: IngestResult) -> str:
    verdict = (
        "republishable"
        if result.decision.republishable
        else f"not republishable: {result.decision.reason}"
    )
    story = result.story
    return f"{result.status}\t{story.id}\trev {story.revision}\t{verdict}\t{value}"


@cli.command("ingest")
@click.argument("inputs", nargs=-1, required=True, metavar="FILE_OR_URL...")
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
@click.pass_context
def ingest_command(
    ctx: click.Context, inputs: tuple[str, ...], publisher_slug: str, url: str | None
) -> None:
    """Extract stories from pages (files or URLs) and store them for a publisher.

    Prints one line per input: new, updated (a new revision) or unchanged; the story id
    and revision; and whether the story may be republished, or why not. An input that
    fails prints a one-line error, stores nothing, and makes the exit status non-zero.
    """
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
