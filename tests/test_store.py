"""Stories, revisions and overrides round-trip through the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from republish import publishers
from republish.models import Extracted, Origin
from republish.store import stories
from republish.store.db import Database
from republish.store.errors import Conflict, NotFound

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _extracted(**changes: object) -> Extracted:
    values: dict[str, object] = {
        "headline": "Harbor council votes to keep the ferry",
        "bylines": ("Ana Ruiz", "Tom Becker"),
        "canonical_url": "https://news.example/2026/ferry-vote",
        "body_html": "<p>The council voted 5-2.</p>",
        "body_text": "The council voted 5-2.",
        "published_at": NOW - timedelta(days=1),
        "tags": ("transport", "council"),
        "section": "Local",
    }
    values.update(changes)
    return Extracted(**values)  # type: ignore[arg-type]


def test_save_story_new_unchanged_updated(db: Database) -> None:
    publisher, _ = publishers.create_publisher(db, "daily", "The Daily", now=NOW)
    assert publisher.id is not None
    with db.begin() as conn:
        story, status = stories.save_story(conn, publisher.id, _extracted(), "file", NOW)
    assert status == "new"
    assert story.revision == 1
    assert story.bylines == ("Ana Ruiz", "Tom Becker")
    assert story.published_at == NOW - timedelta(days=1)
    assert story.created_at == NOW

    with db.begin() as conn:
        again, status = stories.save_story(conn, publisher.id, _extracted(), "file", NOW)
    assert (status, again.id, again.revision) == ("unchanged", story.id, 1)

    changed = _extracted(
        canonical_url="http://www.news.example/2026/ferry-vote/?utm_source=x",
        body_html="<p>The council voted 5-2 on Tuesday.</p>",
        origin=Origin("AP", "(AP) —", "dateline"),
    )
    later = NOW + timedelta(hours=1)
    with db.begin() as conn:
        updated, status = stories.save_story(conn, publisher.id, changed, "url", later)
    assert (status, updated.id, updated.revision) == ("updated", story.id, 2)
    assert updated.origin == "AP"
    assert updated.modified_at == later
    with db.connect() as conn:
        revisions = stories.list_revisions(conn, story.id)
    assert [r.revision for r in revisions] == [1, 2]
    assert revisions[0].body_html == "<p>The council voted 5-2.</p>"
    assert revisions[1].source == "url"


def test_override_is_recorded_and_clearable(db: Database) -> None:
    publisher, _ = publishers.create_publisher(db, "daily", "The Daily", now=NOW)
    assert publisher.id is not None
    with db.begin() as conn:
        story, _ = stories.save_story(conn, publisher.id, _extracted(), "file", NOW)
        denied = stories.set_override(conn, story.id, False, "Legal hold", "editor@x", NOW)
    assert denied.override is not None
    assert denied.override.republishable is False
    assert denied.override.reason == "Legal hold"
    with db.begin() as conn:
        cleared = stories.set_override(conn, story.id, None, "Hold lifted", "editor@x", NOW)
        history = stories.list_overrides(conn, story.id)
    assert cleared.override is None
    assert [(h["republishable"], h["reason"]) for h in history] == [
        (False, "Legal hold"),
        (None, "Hold lifted"),
    ]
    with db.begin() as conn, pytest.raises(NotFound):
        stories.set_override(conn, "nosuchstory", True, "", "x", NOW)


def test_publisher_slug_conflict_changes_nothing(db: Database) -> None:
    publishers.create_publisher(db, "daily", "The Daily", now=NOW)
    with pytest.raises(Conflict):
        publishers.create_publisher(db, "daily", "Another", now=NOW)
    with pytest.raises(publishers.InvalidPublisher):
        publishers.edit_publisher(db, "daily", {"contact_email": "not an address"})
    with db.connect() as conn:
        from republish.store.publishers import get_publisher, list_publishers

        assert [p.name for p in list_publishers(conn)] == ["The Daily"]
        assert get_publisher(conn, "daily").contact_email == ""


def test_token_identifies_publisher(db: Database) -> None:
    publisher, token = publishers.create_publisher(db, "daily", "The Daily", now=NOW)
    found = publishers.publisher_for_token(db, token)
    assert found is not None and found.slug == "daily"
    new = publishers.rotate_token(db, "daily")
    assert publishers.publisher_for_token(db, token) is None
    assert publishers.publisher_for_token(db, new) is not None
