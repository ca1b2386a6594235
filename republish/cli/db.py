"""``republish db``: database maintenance."""

from __future__ import annotations

import click

from republish.cli import cli
from republish.cli._common import get_settings, open_db


@cli.group()
def db() -> None:
    """Create and migrate the database."""


@db.command()
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Create or migrate the database to the newest schema."""
    settings = get_settings(ctx)
    database = open_db(settings, check=False)
    before = database.current_revision()
    database.upgrade()
    after = database.current_revision()
    if before == after:
        click.echo(f"Database already at {after}.")
    else:
        click.echo(f"Database upgraded from {before or 'empty'} to {after}.")
