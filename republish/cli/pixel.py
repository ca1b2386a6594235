"""``republish pixel``: serve the pixel alone (a separate process from the dashboard)."""

from __future__ import annotations

import click

from republish.cli import cli
from republish.cli._common import get_settings


@cli.command("pixel")
@click.option(
    "--host", envvar="REPUBLISH_HOST", default="127.0.0.1", show_default=True, help="Address."
)
@click.option(
    "--port",
    envvar="REPUBLISH_PIXEL_PORT",
    type=click.IntRange(0, 65535),
    default=8001,
    show_default=True,
    help="TCP port.",
)
@click.pass_context
def pixel(ctx: click.Context, host: str, port: int) -> None:
    """Serve only the pixel (/p/ID.gif); run `republish rollup --watch` beside it."""
    import uvicorn

    from republish.pixel.app import create_pixel_app

    settings = get_settings(ctx)
    app = create_pixel_app(settings)
    click.echo(f"Pixel on http://{host}:{port}/p/ID.gif, hit log in {settings.hit_log_dir}")
    # No access log: it would write client addresses and User-Agents to disk.
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")
