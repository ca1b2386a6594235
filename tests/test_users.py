"""``republish user`` and the users library: adding, refusing, passwords, removal."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner, Result

from republish import publishers, users
from republish.cli import cli
from republish.store.db import Database
from republish.store.errors import Conflict, NotFound

PASSWORD = "twelve chars plus"


def _run(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["user", *args], env=env, input=stdin)


@pytest.fixture
def daily(db: Database) -> None:
    publishers.create_publisher(db, "daily", "The Daily Lantern")


def test_add_list_and_remove(db: Database, cli_env: dict[str, str], daily: None) -> None:
    result = _run(cli_env, "add", "Editor@Daily.Example", "--publisher", "daily",
                  "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "editor@daily.example" in result.output
    result = _run(cli_env, "add", "boss@newsroom.example", "--password-stdin", stdin=PASSWORD)
    assert result.exit_code == 0 and "administrator" in result.output
    listed = _run(cli_env, "list").output.splitlines()
    assert [line.split("\t")[:2] for line in listed] == [
        ["boss@newsroom.example", "*"], ["editor@daily.example", "daily"],
    ]  # fmt: skip
    assert users.verify_login(db, "EDITOR@daily.example ", PASSWORD) is not None
    result = _run(cli_env, "remove", "editor@daily.example")
    assert result.exit_code == 0, result.output
    assert users.verify_login(db, "editor@daily.example", PASSWORD) is None
    result = _run(cli_env, "remove", "editor@daily.example")
    assert result.exit_code == 1 and "no user with e-mail" in result.output


def test_add_prompts_hidden_and_confirmed(db: Database, cli_env: dict[str, str]) -> None:
    result = _run(cli_env, "add", "a@newsroom.example", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # hidden input is not echoed
    assert users.verify_login(db, "a@newsroom.example", PASSWORD) is not None
    result = _run(cli_env, "add", "b@newsroom.example",
                  stdin=f"{PASSWORD}\nsomething else!!\n{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["add", "x@newsroom.example", "--password-stdin"], "short pass\n", "at least 12"),
        (["add", "not-an-address", "--password-stdin"], PASSWORD, "not an e-mail address"),
        (["add", "x@newsroom.example", "--publisher", "nobody"], "", "no publisher"),
        (["add", "taken@newsroom.example", "--password-stdin"], PASSWORD, "exists"),
        (["add", "TAKEN@newsroom.example", "--password-stdin"], PASSWORD, "exists"),
    ],
)
def test_add_refuses_bad_input_and_stores_nothing(
    db: Database, cli_env: dict[str, str], daily: None,
    args: list[str], stdin: str, message: str,
) -> None:  # fmt: skip
    users.create_user(db, "taken@newsroom.example", PASSWORD)
    result = _run(cli_env, *args, stdin=stdin)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0], lines
    assert [u.email for u in users.list_users(db)] == ["taken@newsroom.example"]


def test_password_change(db: Database, cli_env: dict[str, str]) -> None:
    users.create_user(db, "a@newsroom.example", PASSWORD)
    result = _run(cli_env, "password", "a@newsroom.example", "--password-stdin", stdin="too short")
    assert result.exit_code == 1 and "at least 12" in result.output
    assert users.verify_login(db, "a@newsroom.example", PASSWORD) is not None
    new = "an entirely new passphrase"
    result = _run(cli_env, "password", "a@newsroom.example", "--password-stdin", stdin=new)
    assert result.exit_code == 0, result.output
    assert users.verify_login(db, "a@newsroom.example", PASSWORD) is None
    assert users.verify_login(db, "a@newsroom.example", new) is not None
    result = _run(cli_env, "password", "nobody@newsroom.example", "--password-stdin", stdin=new)
    assert result.exit_code == 1 and "no user" in result.output


def test_hashes_are_argon2_and_never_shown(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    created = users.create_user(db, "a@newsroom.example", PASSWORD)
    assert created.password_hash.startswith("$argon2id$")
    assert PASSWORD not in created.password_hash
    assert created.password_hash not in repr(created)
    logged = users.verify_login(db, "a@newsroom.example", PASSWORD)
    assert logged is not None and logged.last_login_at is not None
    assert PASSWORD not in caplog.text and created.password_hash not in caplog.text


def test_verify_login_refuses(db: Database) -> None:
    users.create_user(db, "a@newsroom.example", PASSWORD)
    assert users.verify_login(db, "a@newsroom.example", PASSWORD + "x") is None
    assert users.verify_login(db, "b@newsroom.example", PASSWORD) is None
    assert users.verify_login(db, "", PASSWORD) is None
    assert users.verify_login(db, "a@newsroom.example", "") is None


def test_outdated_hash_is_replaced_at_login(db: Database) -> None:
    from argon2 import PasswordHasher

    from republish.store import sessions
    from republish.store import users as store

    created = users.create_user(db, "a@newsroom.example", PASSWORD)
    other = users.create_user(db, "b@newsroom.example", PASSWORD)
    weak = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    now = datetime.now(UTC)
    with db.begin() as conn:
        store.set_password_hash(conn, created.id, weak)
        elsewhere = sessions.create_session(conn, created.id, now, 3600)  # another device
        kept = sessions.create_session(conn, other.id, now, 3600)
    old_stamp = users.session_stamp(store_user(db, created.id))
    logged = users.verify_login(db, "a@newsroom.example", PASSWORD)
    assert logged is not None and logged.password_hash not in {weak, created.password_hash}
    # The new hash's stamp no longer matches the other device's cookie, and its record is
    # gone too; another user's session is untouched.
    assert users.session_stamp(logged) != old_stamp
    with db.connect() as conn:
        assert sessions.session_user(conn, elsewhere, now) is None
        assert sessions.session_user(conn, kept, now) is not None
    # Logging in again with the hash now current changes nothing.
    again = users.verify_login(db, "a@newsroom.example", PASSWORD)
    assert again is not None and again.password_hash == logged.password_hash


def store_user(db: Database, user_id: int) -> users.User:
    from republish.store import users as store

    with db.connect() as conn:
        return store.get_user_by_id(conn, user_id)


def test_library_errors(db: Database) -> None:
    users.create_user(db, "a@newsroom.example", PASSWORD)
    with pytest.raises(Conflict):
        users.create_user(db, "A@newsroom.example", PASSWORD)
    with pytest.raises(NotFound):
        users.create_user(db, "b@newsroom.example", PASSWORD, "nobody")
    with pytest.raises(users.InvalidUser):
        users.create_user(db, "b@newsroom.example", "x" * 11)
    assert len(users.list_users(db)) == 1


def test_removing_a_publisher_removes_its_users(db: Database, daily: None) -> None:
    import sqlalchemy as sa

    from republish.store.schema import publishers as publisher_table

    users.create_user(db, "a@daily.example", PASSWORD, "daily")
    users.create_user(db, "boss@newsroom.example", PASSWORD)
    with db.begin() as conn:
        conn.execute(sa.delete(publisher_table).where(publisher_table.c.slug == "daily"))
    assert [u.email for u in users.list_users(db)] == ["boss@newsroom.example"]
