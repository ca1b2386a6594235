"""Every command and setting is documented, and the generated docs are current."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from cogapp import Cog

from republish.cli import cli
from republish.config import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _commands(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            found += _commands(command.commands[name], path + (name,))
    return found


@pytest.mark.parametrize("doc", ["cli.md", "settings.md"])
def test_generated_docs_are_current(doc: str) -> None:
    status = Cog().main(["cog", "--check", str(DOCS / doc)])
    assert status == 0, f"run: .venv/bin/cog -r docs/{doc}"


def test_every_command_has_help_and_is_documented() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for path in _commands(cli):
        title = " ".join(("republish",) + path)
        assert f"## `{title}`" in text, title
        command = cli
        for name in path:
            assert isinstance(command, click.Group)
            command = command.commands[name]
        assert command.help and command.help.strip(), f"{title} has no help text"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert f"`{setting.env}`" in text
        assert setting.help


def test_readme_names_the_two_commands_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "./scripts/demo" in readme and "./scripts/test" in readme
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "exec ./scripts/test" in ci


def test_docs_links_resolve() -> None:

    for doc in [ROOT / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#]+\.md)\)", doc.read_text(encoding="utf-8")):
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"
