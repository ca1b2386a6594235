"""What every command shares: settings, the database, and one-line errors."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import click

from republish.config import Settings, SettingsError
from republish.store.db import Database, DatabaseError


def main_group() -> type[click.Group]:
    """The top-level group class: turns known library errors into one-line messages."""
    from republish.net import FetchError
    from republish.publishers import InvalidPublisher
    from republish.store.errors import Conflict, NotFound
    from republish.urls import InvalidURL

    known: tuple[type[Exception], ...] = (
        SettingsError,
        DatabaseError,
        InvalidPublisher,
        Conflict,
        NotFound,
        InvalidURL,
        FetchError,
    )

    class Group(click.Group):
        def invoke(self, ctx: click.Context) -> Any:
            try:
                return super().invoke(ctx)
            except known as exc:
                raise click.ClickException(_one_line(exc)) from exc

    return Group


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def get_settings(ctx: click.Context, **overrides: Any) -> Settings:
    """Settings from the environment, with the global options and ``overrides`` on top."""
    root = ctx.find_root().obj or {}
    return Settings.from_env(
        os.environ,
        database_url=root.get("database_url"),
        base_url=root.get("base_url"),
        **overrides,
    )


def open_db(settings: Settings, *, check: bool = True) -> Database:
    """The configured database; with ``check``, fail unless it is migrated."""
    db = Database(settings.database_url)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        # Close pooled connections when the command ends (PostgreSQL would warn otherwise).
        ctx.call_on_close(db.dispose)
    if check:
        db.check_schema()
    return db


@contextmanager
def stop_on_signals(current: str) -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM (handlers restored afterwards); a second signal
    raises KeyboardInterrupt. ``current`` names what finishes first ("the current poll")."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signals can only be handled on the main thread
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        del frame
        if stop.is_set():  # a second signal: stop now
            raise KeyboardInterrupt
        click.echo(f"Stopping after {current} ({signal.Signals(signum).name}).", err=True)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
