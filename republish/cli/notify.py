"""``republish notify``: where to tell a publisher about new republishers, and delivery."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from republish.cli import cli
from republish.cli._common import get_settings, open_db

if TYPE_CHECKING:
    from republish.notify import DeliveryResult


@cli.group()
def notify() -> None:
    """Webhooks and e-mails sent when a story gets a new republisher."""


@notify.command("add")
@click.option("--publisher", "slug", required=True, help="Publisher slug.")
@click.option("--webhook", "url", help="URL that receives a signed JSON POST per event.")
@click.option("--email", "address", help="Address that receives a plain-text e-mail per event.")
@click.pass_context
def add(ctx: click.Context, slug: str, url: str | None, address: str | None) -> None:
    """Add a webhook or e-mail target (a webhook's signing secret is printed once)."""
    from republish.notify import InvalidTarget, add_target

    settings = get_settings(ctx)
    db = open_db(settings)
    try:
        target = add_target(db, settings, slug, webhook=url, email=address)
    except InvalidTarget as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Added {target.kind} target {target.id} for {slug}: {target.address}")
    if target.secret:
        click.echo(f"Signing secret (shown only now; keep it with the receiver): {target.secret}")


@notify.command("list")
@click.option("--publisher", "slug", help="Only this publisher's targets.")
@click.pass_context
def list_targets(ctx: click.Context, slug: str | None) -> None:
    """List targets with their delivery counts (secrets are not shown)."""
    from republish.store import notifications as store
    from republish.store.publishers import get_publisher

    db = open_db(get_settings(ctx))
    with db.connect() as conn:
        publisher_id = get_publisher(conn, slug).id if slug else None
        targets = store.list_targets(conn, publisher_id)
        rows = store.list_notifications(conn)
    if not targets:
        click.echo("No notification targets.")
        return
    for target in targets:
        mine = [row for row in rows if row["target_id"] == target.id]
        sent = sum(row["sent_at"] is not None for row in mine)
        failing = [row for row in mine if row["sent_at"] is None and row["last_error"]]
        line = (
            f"{target.id}\t{target.publisher_slug}\t{target.kind}\t{target.address}\t"
            f"sent {sent}, pending {len(mine) - sent}"
        )
        if failing:
            line += f"\tlast error: {failing[-1]['last_error']}"
        click.echo(line)


@notify.command("remove")
@click.argument("target_id", type=int)
@click.pass_context
def remove(ctx: click.Context, target_id: int) -> None:
    """Remove a target and its pending notifications."""
    from republish.store import notifications as store

    db = open_db(get_settings(ctx))
    with db.begin() as conn:
        store.remove_target(conn, target_id)
    click.echo(f"Removed notification target {target_id}.")


@notify.command("test")
@click.argument("target_id", type=int)
@click.pass_context
def test(ctx: click.Context, target_id: int) -> None:
    """Send a test message to a target now and report the outcome."""
    from republish.notify import send_test
    from republish.notify.deliver import SEND_ERRORS, describe_error

    settings = get_settings(ctx)
    db = open_db(settings)
    try:
        target = send_test(db, settings, target_id)
    except SEND_ERRORS as exc:
        message = f"test to target {target_id} failed: {describe_error(exc)}"
        raise click.ClickException(message) from exc
    click.echo(f"Test {target.kind} sent to {target.address}.")


@notify.command("deliver")
@click.pass_context
def deliver(ctx: click.Context) -> None:
    """Send due notifications now (the server and `republish rollup` do this too)."""
    from republish.notify import deliver_due

    settings = get_settings(ctx)
    result = deliver_due(open_db(settings), settings)
    echo_delivery(result)


def echo_delivery(result: DeliveryResult) -> None:
    """One line about a delivery pass (nothing when there was nothing to send)."""
    if result.sent or result.failed:
        given_up = f" ({result.given_up} given up)" if result.given_up else ""
        click.echo(f"Notifications: {result.sent} sent, {result.failed} failed{given_up}.")
    for error in result.errors:
        click.echo(f"  {error}", err=True)
