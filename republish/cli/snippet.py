"""``republish snippet``: print a story's snippet, as the API gives it."""

from __future__ import annotations

import json

import click

from republish.cli import cli
from republish.cli._common import get_settings, open_db
from republish.models import Story
from republish.snippet import render_snippet
from republish.store import publishers as publisher_store
from republish.store import stories as story_store
from republish.store.db import Database


def find_story(db: Database, id_or_url: str, publisher_slug: str | None) -> Story:
    """A story by id, or by URL within a publisher (the only one when there is one)."""
    with db.connect() as conn:
        if not id_or_url.startswith(("http://", "https://")):
            return story_store.get_story(conn, id_or_url)
        if publisher_slug is None:
            every = publisher_store.list_publishers(conn)
            if len(every) != 1:
                raise click.ClickException(
                    "give --publisher SLUG to look a story up by URL"
                    if every
                    else "no publishers yet: add one with `republish publisher add`"
                )
            publisher = every[0]
        else:
            publisher = publisher_store.get_publisher(conn, publisher_slug)
        assert publisher.id is not None
        story = story_store.find_story(conn, publisher.id, id_or_url)
        if story is None:
            raise click.ClickException(f"{publisher.slug} has no story at {id_or_url}")
        return story


@cli.command("snippet")
@click.argument("id_or_url")
@click.option(
    "--format",
    "output",
    type=click.Choice(["html", "head", "text", "json"]),
    default="html",
    show_default=True,
    help="What to print: the story HTML, the canonical head tag, plain text, or all as JSON.",
)
@click.option(
    "--publisher",
    "publisher_slug",
    envvar="REPUBLISH_PUBLISHER",
    help="Publisher slug (needed to look a story up by URL when there are several).",
)
@click.pass_context
def snippet(ctx: click.Context, id_or_url: str, output: str, publisher_slug: str | None) -> None:
    """Print the snippet of a story (by id or canonical URL) that republishers copy."""
    from republish.web.serialize import snippet_to_json  # the web stack loads on use only

    settings = get_settings(ctx)
    db = open_db(settings)
    story = find_story(db, id_or_url, publisher_slug)
    with db.connect() as conn:
        publisher = publisher_store.get_publisher_by_id(conn, story.publisher_id)
    rendered = render_snippet(story, publisher, settings.base_url)
    if output == "json":
        click.echo(json.dumps(snippet_to_json(rendered), indent=2, ensure_ascii=False))
        return
    if not rendered.republishable:
        click.echo(f"Not republishable: {rendered.reason}", err=True)
        ctx.exit(1)
    click.echo(getattr(rendered, output), nl=False)
