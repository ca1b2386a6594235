"""``republish serve``: run the web app (API, widget, republish pages)."""

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
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the API, the widget and the republish pages with uvicorn."""
    import uvicorn

    from republish.web import create_app

    settings = get_settings(ctx)
    db = open_db(settings)  # fails here, with a one-line message, when not migrated
    uvicorn.run(create_app(settings, database=db), host=host, port=port, log_level="info")
