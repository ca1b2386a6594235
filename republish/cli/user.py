"""``republish user``: dashboard users (add, list, remove, change a password)."""

from __future__ import annotations

import sys

import click

from republish import users as service
from republish.cli import cli
from republish.cli._common import get_settings, open_db


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt(
        "Password", hide_input=True, confirmation_prompt=True, prompt_suffix=": "
    )
    return password


def _password_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from the first line of standard input instead of a prompt.",
    )(func)


@cli.group()
def user() -> None:
    """Dashboard users: who may log in and which publisher they see."""


@user.command("add")
@click.argument("email")
@click.option(
    "--publisher",
    "slug",
    help="The publisher this user sees. Without it: an administrator of every publisher.",
)
@_password_option
@click.pass_context
def add(ctx: click.Context, email: str, slug: str | None, password_stdin: bool) -> None:
    """Add a user; the password (12+ characters) is asked for twice, hidden."""
    db = open_db(get_settings(ctx))
    try:
        # Refuse a taken e-mail or an unknown publisher before asking for a password.
        service.check_new_user(db, email, slug)
        password = service.check_password(_read_password(password_stdin))
        created = service.create_user(db, email, password, slug)
    except service.InvalidUser as exc:
        raise click.ClickException(str(exc)) from exc
    scope = f"publisher {created.publisher_slug}" if slug else "every publisher (administrator)"
    click.echo(f"Added {created.email}: {scope}.")


@user.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """List users: e-mail, publisher (or * for administrators), last login."""
    db = open_db(get_settings(ctx))
    found = service.list_users(db)
    if not found:
        click.echo("No users. Add one with: republish user add EMAIL")
        return
    for entry in found:
        last = entry.last_login_at.isoformat(timespec="seconds") if entry.last_login_at else "-"
        click.echo(f"{entry.email}\t{entry.publisher_slug or '*'}\t{last}")


@user.command("remove")
@click.argument("email")
@click.pass_context
def remove(ctx: click.Context, email: str) -> None:
    """Remove a user; their sessions end."""
    db = open_db(get_settings(ctx))
    try:
        service.remove_user(db, email)
    except service.InvalidUser as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Removed {email.strip().lower()}.")


@user.command("password")
@click.argument("email")
@_password_option
@click.pass_context
def password(ctx: click.Context, email: str, password_stdin: bool) -> None:
    """Set a new password for a user; their open sessions end."""
    db = open_db(get_settings(ctx))
    try:
        address = service.normalise_email(email)
        new = service.check_password(_read_password(password_stdin))
        service.change_password(db, address, new)
    except service.InvalidUser as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Changed the password of {address}.")
