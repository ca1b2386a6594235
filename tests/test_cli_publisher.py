"""``republish db`` and ``republish publisher`` through the real CLI and database."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from republish.cli import cli
from republish.store.db import Database
from republish.store.publishers import list_publishers


def _run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_db_upgrade_on_empty_database(tmp_path: Path, cli_env: dict[str, str]) -> None:
    env = cli_env | {"REPUBLISH_DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}"}
    code, out, _ = _run(env, "db", "upgrade")
    assert code == 0
    assert "upgraded from empty" in out
    code, out, _ = _run(env, "db", "upgrade")
    assert code == 0 and "already at" in out


def test_commands_refuse_an_unmigrated_database(tmp_path: Path, cli_env: dict[str, str]) -> None:
    env = cli_env | {"REPUBLISH_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    code, _, err = _run(env, "publisher", "list")
    assert code == 1
    assert err.strip() == "Error: the database schema is not up to date: run `republish db upgrade`"


def test_add_show_edit_list(cli_env: dict[str, str], db: Database, tmp_path: Path) -> None:
    guidelines = tmp_path / "g.md"
    guidelines.write_text("# Our rules\n\nCredit us.\n", encoding="utf-8")
    code, out, _ = _run(
        cli_env,
        "publisher", "add", "daily", "--name", "The Daily",
        "--domains", "Daily.example, www.daily-news.example",
        "--licence", "CC-BY-4.0",
        "--guidelines-file", str(guidelines),
        "--excluded-origins", "AP, Reuters",
        "--hide-reason",
    )  # fmt: skip
    assert code == 0, out
    assert "API token (shown once" in out
    token = out.rsplit(": ", 1)[1].strip()
    assert token.startswith("rp_")

    code, out, _ = _run(cli_env, "publisher", "show", "daily")
    shown = json.loads(out)
    assert shown["domains"] == ["daily.example", "daily-news.example"]
    assert shown["licence"] == "CC-BY-4.0"
    assert shown["guidelines_md"].startswith("# Our rules")
    assert shown["excluded_origins"] == ["AP", "Reuters"]
    assert shown["show_reason"] is False
    assert token not in out

    code, out, _ = _run(cli_env, "publisher", "edit", "daily", "--show-reason", "--name", "Daily")
    assert code == 0 and "name, show_reason" in out
    code, out, _ = _run(cli_env, "publisher", "list", "--json")
    listed = json.loads(out)
    assert [(p["slug"], p["name"], p["show_reason"]) for p in listed] == [("daily", "Daily", True)]


def test_bad_input_is_one_line_and_stores_nothing(cli_env: dict[str, str], db: Database) -> None:
    _run(cli_env, "publisher", "add", "daily", "--name", "The Daily")
    cases = [
        (["publisher", "add", "daily", "--name", "Again"], "already exists"),
        (["publisher", "add", "Bad Slug", "--name", "X"], "slug:"),
        (["publisher", "add", "x", "--name", "X", "--domains", "not a domain"], "domains:"),
        (["publisher", "add", "x", "--name", "X", "--credit-template", "{oops}"], "{oops}"),
        (["publisher", "add", "x", "--name", "X", "--contact-email", "nope"], "contact_email"),
        (["publisher", "add", "x", "--name", "X", "--guidelines-file", "/no/such"], "cannot read"),
        (["publisher", "edit", "nobody", "--name", "X"], "no publisher with slug 'nobody'"),
        (["publisher", "edit", "daily", "--home-url", "ftp://x"], "home_url"),
        (
            ["publisher", "edit", "daily", "--home-url", "https://a.example/" + "x" * 2000],
            "home_url: longer than 2000",
        ),
        (
            ["publisher", "edit", "daily", "--contact-email", "a@" + "b" * 320 + ".example"],
            "contact_email: longer than 320",
        ),
        (["publisher", "show", "nobody"], "no publisher"),
    ]
    for args, message in cases:
        code, _, err = _run(cli_env, *args)
        assert code != 0, args
        assert message in err, (args, err)
        assert len(err.strip().splitlines()) == 1 or "Usage:" in err, err
    with db.connect() as conn:
        publishers = list_publishers(conn)
    assert [(p.slug, p.name, p.home_url) for p in publishers] == [("daily", "The Daily", "")]


def test_token_rotation(cli_env: dict[str, str], db: Database) -> None:
    _run(cli_env, "publisher", "add", "daily", "--name", "The Daily")
    code, out, _ = _run(cli_env, "publisher", "token", "daily")
    assert code == 0 and out.strip().split(": ")[1].startswith("rp_")
