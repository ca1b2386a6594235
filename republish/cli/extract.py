"""``republish extract``: show what extraction finds on pages, storing nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from republish.cli import cli
from republish.cli._common import get_settings
from republish.ingest.extract import extracted_to_json
from republish.ingest.run import IngestError, extract_file, extract_url
from republish.models import Extracted


def is_url(value: str) -> bool:
    """Whether a command-line input names a URL rather than a file."""
    return value.lower().startswith(("http://", "https://"))


def extract_input(ctx: click.Context, value: str, url: str | None) -> Extracted:
    """Extract one input: a URL (fetched through the guarded client) or an HTML file."""
    if is_url(value):
        return extract_url(get_settings(ctx), value)
    return extract_file(Path(value), url)


def _dump(data: Any, *, indent: int | None = None) -> str:
    return json.dumps(data, ensure_ascii=False, indent=indent)


@cli.command("extract")
@click.argument("inputs", nargs=-1, required=True, metavar="FILE_OR_URL...")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["json", "jsonl", "html", "text"]),
    default="json",
    show_default=True,
    help="json: one object (a list for several inputs); jsonl: one object per line; "
    "html: the clean body; text: the plain-text body.",
)
@click.option(
    "--url",
    help="The page's URL (canonical; links are made absolute against it). Only with one file.",
)
@click.pass_context
def extract_command(
    ctx: click.Context, inputs: tuple[str, ...], output_format: str, url: str | None
) -> None:
    """Print what extraction finds on pages (files or URLs); nothing is stored.

    Shows headline, dek, bylines, dates, canonical URL, section, tags, the detected
    origin (wire or partner, with its evidence) and the clean body as HTML and text.
    URLs are fetched through the guarded client (private addresses are refused).
    """
    if url is not None and (len(inputs) != 1 or is_url(inputs[0])):
        raise click.UsageError("--url applies to a single file input")
    results: list[dict[str, Any]] = []
    failed = False
    for value in inputs:
        try:
            extracted = extract_input(ctx, value, url)
        except IngestError as exc:
            if len(inputs) == 1:
                raise click.ClickException(str(exc)) from exc
            failed = True
            result: dict[str, Any] = {"input": value, "error": str(exc)}
        else:
            result = {"input": value, **extracted_to_json(extracted)}
        if output_format == "jsonl":
            click.echo(_dump(result))
        elif output_format in {"html", "text"}:
            if len(inputs) > 1:
                click.echo(f"==> {value} <==")
            if "error" in result:
                click.echo(f"error: {result['error']}", err=True)
            else:
                click.echo(result["body_html" if output_format == "html" else "body_text"])
        results.append(result)
    if output_format == "json":
        click.echo(_dump(results[0] if len(inputs) == 1 else results, indent=2))
    if failed:
        ctx.exit(1)
