"""The demo newsroom: a fresh database with a fictional publisher and its sample stories.

The stories are complete article pages in ``republish/demo_data/`` (header, navigation,
donation and newsletter boxes, photos, related links). They go through the real ingest
path, ``extract`` then ``ingest_extracted``, so the demo shows what extraction keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from republish.ingest.extract import extract
from republish.ingest.run import ingest_extracted
from republish.models import Decision, Licence, Publisher, Story
from republish.publishers import create_publisher
from republish.store import publishers as publisher_store
from republish.store.db import Database
from republish.store.errors import NotFound
from republish.store.schema import publishers as publishers_table

DATA_DIR = Path(__file__).resolve().parent.parent / "demo_data"

#: Marker in the stored pages replaced by the address the demo is served from.
BASE_MARKER = "{{base}}"

DEMO_SLUG = "harbor-ledger"
DEMO_NAME = "The Harbor Ledger"

#: The sample stories, in the order the demo index lists them.
ARTICLES: tuple[str, ...] = (
    "ferry-winter-schedule",
    "school-water-lead",
    "council-election-guide",
    "oyster-cooperative",
    "reservoir-levels-wire",
    "waterfront-for-everyone",
)


class DemoError(RuntimeError):
    """The demo cannot use the database it was given."""


@dataclass(frozen=True)
class DemoSite:
    """What :func:`seed_demo` stored: the publisher, and each story with its decision."""

    base_url: str
    publisher: Publisher
    stories: dict[str, Story]
    decisions: dict[str, Decision]

    def article_url(self, slug: str) -> str:
        """The sample article page of ``slug`` (also the story's canonical URL)."""
        return article_url(self.base_url, slug)


def article_url(base_url: str, slug: str) -> str:
    """Where the demo serves the sample article ``slug``."""
    return f"{base_url.rstrip('/')}/demo/articles/{slug}"


def article_page(slug: str, base_url: str) -> str:
    """The stored article page of ``slug`` with its links pointing at ``base_url``."""
    if slug not in ARTICLES:
        raise KeyError(slug)
    text = (DATA_DIR / f"{slug}.html").read_text(encoding="utf-8")
    return text.replace(BASE_MARKER, base_url.rstrip("/"))


def demo_publisher_fields() -> dict[str, object]:
    """The demo publisher's settings, as :func:`create_publisher` takes them."""
    return {
        "home_url": "https://harborledger.example/",
        "domains": ["harborledger.example"],
        "licence": Licence.CC_BY_ND.value,
        "guidelines_md": (DATA_DIR / "guidelines.md").read_text(encoding="utf-8"),
        "canonical_guide_md": (DATA_DIR / "canonical-guide.md").read_text(encoding="utf-8"),
        "contact_email": "republish@harborledger.example",
        "excluded_sections": ["Opinion"],
        "show_reason": True,
    }


def _sqlite_path(database_url: str) -> Path | None:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _other_publishers(db: Database) -> list[str]:
    """Slugs of publishers that are not the demo's ([] for an empty or new database)."""
    tables = sa.inspect(db.engine).get_table_names()
    if "publishers" not in tables:
        if tables:
            raise DemoError(f"the database at {db.url} is not a republish database")
        return []
    with db.connect() as conn:
        return [p.slug for p in publisher_store.list_publishers(conn) if p.slug != DEMO_SLUG]


def reset_database(database_url: str) -> Database:
    """A migrated database holding no demo data, ready for :func:`seed_demo`.

    A SQLite file is deleted and created again. Any other database is migrated and the
    demo publisher (with its stories) deleted. Either way, a database that holds other
    publishers is refused: the demo never deletes real data.
    """
    db = Database(database_url)
    try:
        others = _other_publishers(db)
    except sa.exc.SQLAlchemyError as exc:
        db.dispose()
        raise DemoError(f"cannot open the demo database: {type(exc).__name__}") from exc
    except DemoError:
        db.dispose()
        raise
    if others:
        db.dispose()
        raise DemoError(
            f"the database at {database_url} holds other publishers ({', '.join(others)}); "
            "the demo needs a database of its own (use --database-url)"
        )
    path = _sqlite_path(database_url)
    if path is not None:
        db.dispose()
        if path.exists() and not _is_sqlite_file(path):
            raise DemoError(f"{path} is not a SQLite database; not deleting it")
        for leftover in (
            path,
            path.with_name(path.name + "-wal"),
            path.with_name(path.name + "-shm"),
        ):
            leftover.unlink(missing_ok=True)
        db = Database(database_url)
    db.upgrade()
    with db.begin() as conn:
        # Stories and everything hanging off them go with the publisher (ON DELETE CASCADE).
        conn.execute(sa.delete(publishers_table).where(publishers_table.c.slug == DEMO_SLUG))
    return db


def _is_sqlite_file(path: Path) -> bool:
    with path.open("rb") as handle:
        header = handle.read(16)
    return header in {b"SQLite format 3\x00", b""}


def seed_demo(db: Database, base_url: str, now: datetime | None = None) -> DemoSite:
    """Create the demo publisher and ingest every sample article into ``db``.

    ``base_url`` is where the demo is served: the stories' canonical URLs point there, so
    the widget on each sample page finds its story by the page's canonical link.
    """
    now = now or datetime.now(UTC)
    base_url = base_url.rstrip("/")
    with db.connect() as conn:
        try:
            publisher_store.get_publisher(conn, DEMO_SLUG)
        except NotFound:
            pass
        else:
            raise DemoError(f"the demo publisher {DEMO_SLUG!r} exists already; reset the database")
    publisher, _token = create_publisher(db, DEMO_SLUG, DEMO_NAME, demo_publisher_fields(), now)
    stories: dict[str, Story] = {}
    decisions: dict[str, Decision] = {}
    for slug in ARTICLES:
        url = article_url(base_url, slug)
        result = ingest_extracted(db, DEMO_SLUG, extract(article_page(slug, base_url), url), "demo")
        stories[slug] = result.story
        decisions[slug] = result.decision
    return DemoSite(base_url, publisher, stories, decisions)
