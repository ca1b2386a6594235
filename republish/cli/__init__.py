"""The command line: ``republish COMMAND``. Thin: every command calls library functions."""

from __future__ import annotations

import click

from republish import __version__
from republish.cli._common import main_group


@click.group(cls=main_group(), context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="republish")
@click.option(
    "--database-url",
    envvar="REPUBLISH_DATABASE_URL",
    help="Database URL (default sqlite:///republish.db in the working directory).",
)
@click.option(
    "--base-url",
    envvar="REPUBLISH_BASE_URL",
    help="Public address of this service (default http://127.0.0.1:8000).",
)
@click.pass_context
def cli(ctx: click.Context, database_url: str | None, base_url: str | None) -> None:
    """Offer your stories for republication and see where they ran."""
    ctx.obj = {"database_url": database_url, "base_url": base_url}


def _register() -> None:
    # Each command group lives in its own module; importing registers it on ``cli``.
    from republish.cli import db as _db  # noqa: F401
    from republish.cli import demo as _demo  # noqa: F401
    from republish.cli import extract as _extract  # noqa: F401
    from republish.cli import ingest as _ingest  # noqa: F401
    from republish.cli import notify as _notify  # noqa: F401
    from republish.cli import pixel as _pixel  # noqa: F401
    from republish.cli import publisher as _publisher  # noqa: F401
    from republish.cli import serve as _serve  # noqa: F401
    from republish.cli import snippet as _snippet  # noqa: F401
    from republish.cli import source as _source  # noqa: F401
    from republish.cli import stats as _stats  # noqa: F401
    from republish.cli import story as _story  # noqa: F401
    from republish.cli import user as _user  # noqa: F401


_register()


def main() -> None:
    """Entry point of the ``republish`` script."""
    cli(prog_name="republish")
