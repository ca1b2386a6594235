"""``republish demo``: a fictional newsroom with sample stories, served locally."""

from __future__ import annotations

import os
import secrets

import click

from republish.cli import cli
from republish.users import create_user

DEFAULT_DEMO_DATABASE_URL = "sqlite:///republish-demo.db"

DEMO_EDITOR = "editor@harbor-ledger.example"


def _display_host(host: str) -> str:
    # A wildcard address is where we listen, not an address a browser can open.
    if host in {"0.0.0.0", "::", ""}:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="REPUBLISH_DEMO_HOST",
    help="Address to listen on.",
)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(1, 65535),
    envvar="REPUBLISH_DEMO_PORT",
    help="Port to listen on.",
)
@click.option(
    "--database-url",
    default=DEFAULT_DEMO_DATABASE_URL,
    show_default=True,
    envvar="REPUBLISH_DEMO_DATABASE_URL",
    help="Demo database, RECREATED FRESH on every run (a SQLite file is deleted first). "
    "The global --database-url is not used, and a database holding other publishers "
    "is refused, so the demo never touches your real data.",
)
@click.option(
    "--base-url",
    envvar="REPUBLISH_DEMO_BASE_URL",
    help="Address browsers use to reach the demo (default http://HOST:PORT).",
)
@click.option("--no-serve", is_flag=True, help="Only build the demo database, then exit.")
def demo(host: str, port: int, database_url: str, base_url: str | None, no_serve: bool) -> None:
    """Run a demo newsroom with sample stories and the widget (offline)."""
    from republish.config import Settings
    from republish.demo import (
        DemoError,
        demo_routes,
        hit_log_dir,
        reset_database,
        reset_hit_log,
        seed_demo,
        simulate_hits,
    )
    from republish.ingest.run import IngestError

    base = base_url or f"http://{_display_host(host)}:{port}"
    log_dir = hit_log_dir(database_url)
    settings = Settings.from_env(
        os.environ, database_url=database_url, base_url=base, hit_log_dir=str(log_dir)
    )
    try:
        db = reset_database(settings.database_url)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        reset_hit_log(log_dir)
        site = seed_demo(db, settings.base_url)
        simulated = simulate_hits(db, log_dir, site)
        # A dashboard login for this run only (the database is recreated every time).
        password = secrets.token_urlsafe(12)
        create_user(db, DEMO_EDITOR, password, site.publisher.slug)
    except (DemoError, IngestError, ValueError) as exc:
        db.dispose()
        raise click.ClickException(str(exc)) from exc

    click.echo(f"Demo database: {database_url} (recreated)")
    click.echo(
        f"Demo hit log:  {log_dir} (recreated; {simulated.hits} simulated hits of the "
        f"last {simulated.days} days, rolled up)"
    )
    click.echo(f"Publisher: {site.publisher.name} ({site.publisher.slug})")
    click.echo(f"Dashboard login: {DEMO_EDITOR} / {password}")
    for slug, story in site.stories.items():
        decision = site.decisions[slug]
        verdict = "offered" if decision.republishable else f"not offered: {decision.reason}"
        click.echo(f"  {story.id}  {story.headline}\n              {verdict}")
    if no_serve:
        db.dispose()
        return

    import uvicorn

    from republish.pixel.app import PixelApp
    from republish.web.app import create_app

    # The pixel and the in-process rollup: views on the sample republisher page count.
    app = create_app(
        settings,
        extra_routes=demo_routes(db, settings.base_url),
        database=db,
        pixel=PixelApp.from_settings(settings),
    )
    base = settings.base_url
    click.echo("")
    click.echo(f"Demo index:        {base}/")
    first = next(iter(site.stories))
    click.echo(f"A sample article:  {site.article_url(first)}")
    click.echo(f"Guidelines:        {base}/guidelines/{site.publisher.slug}")
    click.echo(f"Widget script:     {base}/widget.js")
    click.echo(f"API description:   {base}/api/v1/openapi.json")
    click.echo(f"Dashboard:         {base}/dashboard (log in as {DEMO_EDITOR}, password above)")
    rollup_s = settings.rollup_interval_s
    every = f"every {rollup_s:g} s" if rollup_s > 0 else "by `republish rollup`"
    click.echo(
        f"Statistics:        republish --database-url {database_url} stats --publisher "
        f"{site.publisher.slug} (views are rolled up {every})"
    )
    click.echo("Press Ctrl+C to stop.")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", ws="none", lifespan="on")
    finally:
        db.dispose()
