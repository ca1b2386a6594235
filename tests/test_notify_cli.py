"""``republish notify`` and delivery by ``republish rollup``, through the real CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from republish.cli import cli
from republish.store import notifications as store
from republish.store.db import Database
from republish.store.schema import daily_stats
from tests.servers import LoopbackServer
from tests.test_notify import PAGE, Receiver, view, write_hits
from tests.test_notify_worker import until

SECRET = re.compile(r"whsec_[0-9a-f]{48}")


@pytest.fixture
def receiver(http_server: LoopbackServer) -> Receiver:
    """A webhook receiver at ``receiver.url``."""
    return Receiver.on(http_server)


def _run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _targets(db: Database) -> list[store.Target]:
    with db.connect() as conn:
        return store.list_targets(conn)


def test_add_list_test_remove(
    cli_env: dict[str, str], db: Database, story_id: str, receiver: Receiver
) -> None:
    code, out, _ = _run(cli_env, "notify", "add", "--publisher", "daily", "--webhook", receiver.url)
    assert code == 0
    [secret] = SECRET.findall(out)
    [target] = _targets(db)
    assert (target.kind, target.address, target.secret) == ("webhook", receiver.url, secret)
    code, out, _ = _run(
        cli_env, "notify", "add", "--publisher", "daily", "--email", "d@daily.example"
    )
    assert code == 0 and "whsec_" not in out

    code, out, _ = _run(cli_env, "notify", "list")
    assert code == 0
    assert receiver.url in out and "d@daily.example" in out
    assert secret not in out  # shown once, at creation only

    code, out, _ = _run(cli_env, "notify", "test", str(target.id))
    assert code == 0 and "sent" in out
    [(headers, body)] = receiver.received
    assert json.loads(body)["event"] == "test"
    assert "X-Republish-Signature" in headers

    code, out, _ = _run(cli_env, "notify", "remove", str(target.id))
    assert code == 0
    assert [t.kind for t in _targets(db)] == ["email"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--publisher", "nobody", "--email", "d@daily.example"], "nobody"),
        (["--publisher", "daily"], "exactly one"),
        (["--publisher", "daily", "--email", "a@b.example", "--webhook", "https://h.example/"],
         "exactly one"),
        (["--publisher", "daily", "--webhook", "ftp://hooks.example/x"], "webhook URL"),
        (["--publisher", "daily", "--webhook", "https://u:p@hooks.example/x"], "webhook URL"),
        (["--publisher", "daily", "--webhook", "http://10.0.0.7/hook"], "refused"),
        (["--publisher", "daily", "--webhook", "http://169.254.169.254/"], "refused"),
        (["--publisher", "daily", "--email", "not-an-address"], "not an e-mail address"),
        (["--publisher", "daily", "--email", "a@b.example\nBcc: x@evil.example"],
         "not an e-mail address"),
    ],
    ids=["publisher", "neither", "both", "scheme", "credentials", "private", "metadata",
         "email", "header-injection"],
)  # fmt: skip
def test_bad_input_is_one_line_and_stores_nothing(
    cli_env: dict[str, str], db: Database, story_id: str, args: list[str], message: str
) -> None:
    code, out, err = _run(cli_env, "notify", "add", *args)
    assert code != 0
    assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1
    assert message in err
    assert _targets(db) == []


def test_unknown_target_ids_are_one_line_errors(cli_env: dict[str, str], db: Database) -> None:
    for command in ("remove", "test"):
        code, _, err = _run(cli_env, "notify", command, "999")
        assert code == 1 and err.strip() == "Error: no notification target 999"
    code, _, err = _run(cli_env, "notify", "remove", "abc")
    assert code == 2 and "abc" in err


def test_failed_test_send_is_one_line(
    cli_env: dict[str, str], db: Database, story_id: str, receiver: Receiver
) -> None:
    _run(cli_env, "notify", "add", "--publisher", "daily", "--webhook", receiver.url)
    receiver.statuses = [500]
    [target] = _targets(db)
    code, _, err = _run(cli_env, "notify", "test", str(target.id))
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "500" in err


def test_rollup_command_delivers_what_it_queued(
    cli_env: dict[str, str], db: Database, story_id: str, receiver: Receiver, tmp_path: Path
) -> None:
    env = cli_env | {"REPUBLISH_HIT_LOG_DIR": str(tmp_path)}
    _run(env, "notify", "add", "--publisher", "daily", "--webhook", receiver.url)
    write_hits(tmp_path, [view(story_id, PAGE)])
    receiver.statuses = [500]
    code, out, err = _run(env, "rollup")
    assert code == 0
    assert "Rolled up 1 hits" in out and "0 sent, 1 failed" in out and "500" in err
    code, out, _ = _run(env, "notify", "list")
    assert "pending 1" in out and "last error" in out
    # The retry is not due yet; `notify deliver` sends nothing until it is.
    code, out, _ = _run(env, "notify", "deliver")
    assert code == 0 and out == ""
    assert len(receiver.received) == 1


def _views(db: Database) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(daily_stats.c.views), 0))
            ).scalar_one()
        )


def _rename(db: Database, old: str, new: str) -> None:
    with db.begin() as conn:
        conn.execute(sa.text(f"ALTER TABLE {old} RENAME TO {new}"))


def test_rollup_watch_outlives_a_failing_database_and_stops_on_sigterm(
    cli_env: dict[str, str], db: Database, story_id: str, receiver: Receiver, tmp_path: Path
) -> None:
    """``republish rollup --watch`` (the rollup process of its own): a pass that fails is
    reported and retried, the hits wait in the log; SIGTERM ends it after a last pass."""
    env = cli_env | {"REPUBLISH_HIT_LOG_DIR": str(tmp_path)}
    _run(env, "notify", "add", "--publisher", "daily", "--webhook", receiver.url)
    write_hits(tmp_path, [view(story_id, PAGE)])
    out_path, err_path = tmp_path / "out.txt", tmp_path / "err.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "republish", "rollup", "--watch", "0.1"],
            env=os.environ | env, stdout=out, stderr=err,
        )  # fmt: skip
    try:
        assert until(lambda: _views(db) == 1), err_path.read_text()
        assert until(lambda: len(receiver.received) == 1), "the new republisher was not sent"
        _rename(db, "daily_stats", "daily_stats_away")  # every pass now fails
        try:
            write_hits(tmp_path, [view(story_id, PAGE, visitor="v2"), view(story_id, PAGE)])
            assert until(lambda: "rollup failed, will retry" in err_path.read_text())
            assert process.poll() is None, "a failed pass ended the process"
        finally:
            _rename(db, "daily_stats_away", "daily_stats")
        assert until(lambda: _views(db) == 3), err_path.read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, err_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    out_text = out_path.read_text()
    assert "Rolling up" in out_text and "Rolled up 2 hits" in out_text
    assert "Notifications: 1 sent, 0 failed." in out_text
    [stopped] = [line for line in out_text.splitlines() if line.startswith("Stopped after")]
    assert "failed)" in stopped and "(0 failed)" not in stopped
    assert "Stopping after a last pass (SIGTERM)." in err_path.read_text()
    assert _views(db) == 3 and len(receiver.received) == 1


def test_rollup_watch_refuses_a_bad_interval(cli_env: dict[str, str]) -> None:
    for bad in ("0", "-1", "soon"):
        result = CliRunner().invoke(cli, ["rollup", "--watch", bad], env=cli_env)
        assert result.exit_code == 2
        assert "Invalid value for '--watch'" in result.stderr
