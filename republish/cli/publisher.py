"""``republish publisher``: add, show, edit and list publishers."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from republish import publishers as service
from republish.cli import cli
from republish.cli._common import get_settings, open_db
from republish.models import Licence, SiteProfile
from republish.store import publishers as store


def _read_text(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from exc


def _field_options(func: Any) -> Any:
    options = [
        click.option("--home-url", help="The newsroom's home page (linked in credit lines)."),
        click.option("--domains", help="Comma-separated site domains, e.g. news.example."),
        click.option(
            "--licence",
            type=click.Choice([licence.value for licence in Licence]),
            help="Licence stories are offered under (default CC-BY-ND-4.0).",
        ),
        click.option(
            "--credit-template",
            help="Credit line; placeholders {publisher} {story_link} {url} {headline} "
            "{licence} {date}.",
        ),
        click.option(
            "--guidelines-file",
            type=click.Path(dir_okay=False),
            help="Markdown file with the republishing guidelines.",
        ),
        click.option(
            "--canonical-guide-file",
            type=click.Path(dir_okay=False),
            help="Markdown file explaining the canonical link.",
        ),
        click.option("--contact-email", help="Address republishers write to."),
        click.option(
            "--excluded-origins",
            help="Comma-separated wires and partners whose stories are not offered.",
        ),
        click.option("--excluded-sections", help="Comma-separated sections not offered."),
        click.option("--excluded-tags", help="Comma-separated tags not offered."),
        click.option("--excluded-authors", help="Comma-separated authors not offered."),
        click.option(
            "--show-reason/--hide-reason",
            default=None,
            help="On a story that is not offered, show the reason (default) or no button.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _changes(values: dict[str, Any]) -> dict[str, Any]:
    changes = {key: value for key, value in values.items() if value is not None}
    if "guidelines_file" in changes:
        changes["guidelines_md"] = _read_text(changes.pop("guidelines_file"))
    if "canonical_guide_file" in changes:
        changes["canonical_guide_md"] = _read_text(changes.pop("canonical_guide_file"))
    return changes


@cli.group()
def publisher() -> None:
    """Manage publishers (newsrooms that offer stories)."""


@publisher.command("add")
@click.argument("slug")
@click.option("--name", required=True, help="The newsroom's name as credited.")
@_field_options
@click.pass_context
def add(ctx: click.Context, /, slug: str, name: str, **values: Any) -> None:
    """Add a publisher and print its API token (shown only once)."""
    db = open_db(get_settings(ctx))
    created, token = service.create_publisher(db, slug, name, _changes(values))
    click.echo(f"Added publisher {created.slug} ({created.name}).")
    click.echo(f"API token (shown once, keep it secret): {token}")


@publisher.command("edit")
@click.argument("slug")
@click.option("--name", help="The newsroom's name as credited.")
@_field_options
@click.pass_context
def edit(ctx: click.Context, /, slug: str, **values: Any) -> None:
    """Change some settings of a publisher."""
    changes = _changes(values)
    if not changes:
        raise click.UsageError("nothing to change: give at least one option")
    db = open_db(get_settings(ctx))
    updated = service.edit_publisher(db, slug, changes)
    click.echo(f"Updated publisher {updated.slug}: {', '.join(sorted(changes))}.")


@publisher.command("show")
@click.argument("slug")
@click.pass_context
def show(ctx: click.Context, slug: str) -> None:
    """Print a publisher's settings as JSON."""
    db = open_db(get_settings(ctx))
    with db.connect() as conn:
        found = store.get_publisher(conn, slug)
    click.echo(json.dumps(service.publisher_to_json(found), indent=2, ensure_ascii=False))


@publisher.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List publishers."""
    db = open_db(get_settings(ctx))
    with db.connect() as conn:
        found = store.list_publishers(conn)
    if as_json:
        click.echo(
            json.dumps([service.publisher_to_json(p) for p in found], indent=2, ensure_ascii=False)
        )
        return
    if not found:
        click.echo("No publishers yet: add one with `republish publisher add SLUG --name NAME`.")
        return
    for item in found:
        click.echo(f"{item.slug}\t{item.name}\t{item.licence.value}\t{','.join(item.domains)}")


@publisher.command("token")
@click.argument("slug")
@click.pass_context
def token(ctx: click.Context, slug: str) -> None:
    """Issue a new API token for a publisher (the old one stops working)."""
    db = open_db(get_settings(ctx))
    click.echo(f"New API token (shown once, keep it secret): {service.rotate_token(db, slug)}")


@publisher.command("profile")
@click.argument("slug")
@click.option("--body", help="CSS selector of the element(s) holding the story body.")
@click.option("--headline", help="CSS selector of the headline.")
@click.option("--byline", help="CSS selector of the element(s) whose text is an author name.")
@click.option(
    "--published", help="CSS selector of the element whose datetime/content or text is the date."
)
@click.option(
    "--exclude",
    multiple=True,
    help="CSS selector of elements removed from the body (repeat for several).",
)
@click.option("--clear", is_flag=True, help="Remove the site profile (automatic extraction).")
@click.pass_context
def profile(
    ctx: click.Context,
    slug: str,
    body: str | None,
    headline: str | None,
    byline: str | None,
    published: str | None,
    exclude: tuple[str, ...],
    clear: bool,
) -> None:
    """Show or set a publisher's site profile: CSS selectors that override automatic
    extraction on the newsroom's own pages.

    Options given replace those selectors and keep the others; an empty value ("")
    removes one. Without options, prints the profile as JSON.
    """
    from republish.ingest.profiles import ProfileError, save_site_profile

    given = {
        "body": body,
        "headline": headline,
        "byline": byline,
        "published": published,
    }
    changes: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
    if exclude:
        changes["exclude"] = tuple(item for item in exclude if item.strip())
    if clear and changes:
        raise click.UsageError("--clear takes no selectors")
    db = open_db(get_settings(ctx))
    if not clear and not changes:
        with db.connect() as conn:
            found = store.get_publisher(conn, slug)
        click.echo(json.dumps(store.profile_to_json(found.site_profile), indent=2))
        return
    current = SiteProfile()
    if not clear:
        with db.connect() as conn:
            current = store.get_publisher(conn, slug).site_profile or SiteProfile()
    try:
        updated = save_site_profile(db, slug, None if clear else replace(current, **changes))
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from exc
    if updated.site_profile is None:
        click.echo(f"Publisher {slug} has no site profile: extraction is automatic.")
    else:
        click.echo(f"Updated the site profile of {slug}: {', '.join(sorted(changes))}.")
