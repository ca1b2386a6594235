"""Shared fixtures: settings, a migrated database (SQLite file or PostgreSQL), servers.

``pytest`` runs on SQLite files; ``pytest --postgres`` runs the same tests on the
PostgreSQL server at ``$REPUBLISH_TEST_POSTGRES_URL`` (default the local ``test``
database), each xdist worker in its own schema.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from republish.config import Secret, Settings
from republish.store.db import Database
from republish.store.schema import metadata
from tests.servers import LoopbackServer
from tests.webclient import WebClient

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
SHARED = Path(__file__).resolve().parents[2] / "shared"
ADMIN_TOKEN = "test-admin-token"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--postgres",
        action="store_true",
        help="run the suite on PostgreSQL ($REPUBLISH_TEST_POSTGRES_URL or the local test DB)",
    )


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the project; tests that need it skip when it is absent."""
    if not SHARED.is_dir():
        if _ci():
            pytest.fail(f"{SHARED} is missing; CI must have it")
        pytest.skip("../shared is not here (a user's clone does not have it)")
    return SHARED


@pytest.fixture(scope="session")
def _db_template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Migrate once per session: a SQLite file to copy, or a PostgreSQL schema to reuse."""
    if request.config.getoption("--postgres"):
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        base = os.environ.get("REPUBLISH_TEST_POSTGRES_URL", DEFAULT_PG_URL)
        # One schema per process: parallel runs (xdist workers, several checkouts) never
        # share tables.
        schema = f"republish_test_{worker}_{os.getpid()}"
        # pre-ping: the outage test restarts the server under this session's feet.
        admin = sa.create_engine(
            base.replace("postgresql://", "postgresql+psycopg://", 1), pool_pre_ping=True
        )
        try:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        except sa.exc.OperationalError as exc:
            pytest.exit(f"PostgreSQL at {base} is not reachable: {exc.orig}", returncode=3)
        url = f"{base}?options=-csearch_path%3D{schema}"
        db = Database(url)
        db.upgrade()
        db.dispose()
        yield url
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        db = Database(f"sqlite:///{path}")
        db.upgrade()
        db.dispose()
        yield str(path)


@pytest.fixture
def database_url(
    request: pytest.FixtureRequest, _db_template: str, tmp_path: Path
) -> Iterator[str]:
    """URL of an empty, migrated database for this test."""
    if request.config.getoption("--postgres"):
        engine = sa.create_engine(
            _db_template.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool
        )
        with engine.begin() as conn:
            names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        engine.dispose()
        yield _db_template
    else:
        path = tmp_path / "republish.db"
        shutil.copyfile(_db_template, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings for a test: its own database, loopback reachable, an admin token."""
    return Settings(
        database_url=database_url,
        base_url="http://127.0.0.1:8000",
        admin_token=Secret(ADMIN_TOKEN),
        fetch_allow=("127.0.0.0/8",),
        fetch_timeout_s=5.0,
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    """The test's migrated, empty database."""
    database = Database(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for CliRunner: the test database and an allowed loopback."""
    env = {
        "REPUBLISH_DATABASE_URL": settings.database_url,
        "REPUBLISH_BASE_URL": settings.base_url,
        "REPUBLISH_FETCH_ALLOW": "127.0.0.0/8",
        "REPUBLISH_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    for key in list(os.environ):
        if key.startswith("REPUBLISH_") and key not in env:
            monkeypatch.delenv(key)
    return env


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[WebClient]:
    """The web app on the test's database, driven in-process (no server)."""
    from republish.web import create_app

    with WebClient(create_app(settings, database=db)) as web:
        yield web


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    """A real HTTP server on 127.0.0.1; add routes with ``server.route(...)``."""
    server = LoopbackServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def story_id(db: Database) -> str:
    """A publisher ("daily", domain daily.example) with one stored story; its id."""
    from datetime import UTC, datetime

    from republish import publishers
    from republish.models import Extracted
    from republish.store import stories

    publisher, _ = publishers.create_publisher(
        db, "daily", "The Daily", {"domains": ["daily.example"]}
    )
    assert publisher.id is not None
    extracted = Extracted(
        headline="Ferry vote",
        canonical_url="https://daily.example/ferry-vote",
        body_html="<p>The council voted.</p>",
        body_text="The council voted.",
    )
    with db.begin() as conn:
        story, _ = stories.save_story(conn, publisher.id, extracted, "push", datetime.now(UTC))
    return story.id
