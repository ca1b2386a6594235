"""``republish serve``: run the web app (API, widget, republish pages, the pixel and its rollup)."""

from __future__ import annotations

import click

from republish.cli import cli
from republish.cli._common import get_settings, open_db


@cli.command("serve")
@click.option(
    "--host", envvar="REPUBLISH_HOST", default="127.0.0.1", show_default=True, help="Address."
)
@click.option(
    "--port",
    envvar="REPUBLISH_PORT",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="TCP port.",
)
@click.option(
    "--pixel/--no-pixel",
    envvar="REPUBLISH_SERVE_PIXEL",
    default=True,
    show_default=True,
    help="Answer /p/ID.gif here too; --no-pixel when `republish pixel` serves it.",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, pixel: bool) -> None:
    """Serve the API, widget, republish pages and pixel; roll hits up every few seconds;
    poll the registered story sources when they are due (see `republish source`)."""
    import uvicorn

    from republish.pixel.app import PixelApp
    from republish.web import create_app

    settings = get_settings(ctx)
    db = open_db(settings)  # fails here, with a one-line message, when not migrated
    pixel_app = PixelApp.from_settings(settings) if pixel else None
    app = create_app(settings, database=db, pixel=pixel_app, poll_sources=settings.poll_sources)
    # No access log: it would write readers' addresses and User-Agents to disk.
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info")
