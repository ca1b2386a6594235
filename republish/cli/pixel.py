"""``republish pixel``: serve the pixel alone (a separate process from the dashboard)."""

from __future__ import annotations

import click

from republish.cli import cli
from republish.cli._common import get_settings

SERVERS = ("native", "builtin", "uvicorn")


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
@click.option(
    "--server",
    "server_name",
    envvar="REPUBLISH_PIXEL_SERVER",
    type=click.Choice(SERVERS),
    default="native",
    show_default=True,
    help="HTTP server: native (the pixel's compiled front, fastest in bench/pixel; "
    "builtin is used where it is not built), builtin (the same in Python, on uvloop) or "
    "uvicorn (the ASGI app, as mounted in `republish serve`).",
)
@click.pass_context
def pixel(ctx: click.Context, host: str, port: int, server_name: str) -> None:
    """Serve only the pixel (/p/ID.gif); run `republish rollup --watch` beside it."""
    settings = get_settings(ctx)
    click.echo(f"Pixel on http://{host}:{port}/p/ID.gif, hit log in {settings.hit_log_dir}")
    # No access log either way: it would write client addresses and User-Agents to disk.
    if server_name == "native":
        from republish.pixel import native

        if native.available():
            front = native.NativePixelServer.from_settings(settings)
            try:
                native.run(front, host, port)
            except OSError as exc:
                raise click.ClickException(f"cannot serve the pixel: {exc}") from None
            click.echo(f"Stopped: {front.summary()}")
            return
        click.echo("The compiled front is not built here; serving with the builtin server.")
        server_name = "builtin"
    if server_name == "builtin":
        from republish.pixel.server import PixelServer, run

        try:
            run(PixelServer.from_settings(settings), host, port)
        except OSError as exc:
            raise click.ClickException(f"cannot serve the pixel: {exc}") from None
        return
    import uvicorn

    from republish.pixel.app import create_pixel_app

    app = create_pixel_app(settings)
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")
