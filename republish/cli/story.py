"""``republish story``: list and show stored stories, and override the policy."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from republish.cli import cli
from republish.cli._common import get_settings, open_db
from republish.policy import decide
from republish.store import publishers as publisher_store
from republish.store import stories as story_store


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@cli.group()
def story() -> None:
    """List and show stories, and allow or deny their republication."""


@story.command("list")
@click.option("--publisher", "publisher_slug", help="Only this publisher's stories.")
@click.option(
    "--limit", type=click.IntRange(1, 10_000), default=100, show_default=True, help="At most."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def list_(ctx: click.Context, publisher_slug: str | None, limit: int, as_json: bool) -> None:
    """List stories, newest first."""
    from republish.web.serialize import story_to_json  # the web stack loads on use only

    settings = get_settings(ctx)
    db = open_db(settings)
    with db.connect() as conn:
        publisher_id = None
        if publisher_slug is not None:
            publisher_id = publisher_store.get_publisher(conn, publisher_slug).id
        found = story_store.list_stories(conn, publisher_id, limit)
        by_id = {p.id: p for p in publisher_store.list_publishers(conn)}
    if as_json:
        _dump([story_to_json(s, by_id[s.publisher_id], settings.base_url) for s in found])
        return
    if not found:
        click.echo("No stories yet: add one with `republish ingest`.")
        return
    for item in found:
        publisher = by_id[item.publisher_id]
        verdict = "yes" if decide(item, publisher).republishable else "no"
        date = item.published_at.date().isoformat() if item.published_at else "-"
        click.echo(f"{item.id}\t{publisher.slug}\t{date}\t{verdict}\t{item.headline}")


@story.command("show")
@click.argument("story_id")
@click.option("--revisions", is_flag=True, help="Include the stored revisions.")
@click.pass_context
def show(ctx: click.Context, story_id: str, revisions: bool) -> None:
    """Print a story's metadata and policy decision as JSON."""
    from republish.web.serialize import revision_to_json, story_to_json

    settings = get_settings(ctx)
    db = open_db(settings)
    with db.connect() as conn:
        found = story_store.get_story(conn, story_id)
        publisher = publisher_store.get_publisher_by_id(conn, found.publisher_id)
        history = story_store.list_revisions(conn, story_id) if revisions else []
    data = story_to_json(found, publisher, settings.base_url)
    if revisions:
        data["revisions"] = [revision_to_json(revision) for revision in history]
    _dump(data)


@story.command("override")
@click.argument("story_id")
@click.option("--allow", "decision", flag_value="allow", help="Offer it, whatever the policy says.")
@click.option("--deny", "decision", flag_value="deny", help="Do not offer it.")
@click.option("--clear", "decision", flag_value="clear", help="Let the policy decide again.")
@click.option("--reason", required=True, help="Why (shown to republishers when denied).")
@click.option("--actor", default="cli", show_default=True, help="Who decided (kept in history).")
@click.pass_context
def override(
    ctx: click.Context, story_id: str, decision: str | None, reason: str, actor: str
) -> None:
    """Allow, deny or clear an editor's override of the policy for one story."""
    if decision is None:
        raise click.UsageError("give one of --allow, --deny or --clear")
    if not actor.strip() or len(actor) > 200:
        raise click.BadParameter("must be 1-200 characters", param_hint="--actor")
    republishable = {"allow": True, "deny": False, "clear": None}[decision]
    settings = get_settings(ctx)
    db = open_db(settings)
    with db.begin() as conn:
        updated = story_store.set_override(
            conn, story_id, republishable, reason.strip(), actor.strip(), datetime.now(UTC)
        )
        publisher = publisher_store.get_publisher_by_id(conn, updated.publisher_id)
    verdict = decide(updated, publisher)
    state = "offered" if verdict.republishable else "not offered"
    click.echo(f"Story {updated.id} is now {state}: {verdict.reason}")
