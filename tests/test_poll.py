"""Polling sources end to end: real loopback site, real database (SQLite or --postgres)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from republish import publishers
from republish.config import Settings
from republish.ingest.poll import PollSummary, one_off_source, poll_source
from republish.ingest.schedule import (
    InvalidSource,
    SourceScheduler,
    add_source,
    parse_interval,
    poll_due,
)
from republish.ingest.sources import SourceError
from republish.models import Publisher, Source
from republish.store import sources as source_store
from republish.store import stories as story_store
from republish.store.db import Database
from republish.store.schema import sources as sources_table
from republish.store.schema import stories as stories_table
from republish.store.schema import story_revisions
from tests.servers import LoopbackServer
from tests.sources_site import Site


@pytest.fixture
def site(http_server: LoopbackServer) -> Iterator[Site]:
    newsroom = Site(http_server)
    newsroom.add(5)
    newsroom.serve(max_story=50)
    yield newsroom


@pytest.fixture
def daily(db: Database) -> Publisher:
    # No domains: stories must then be on the source's own host (127.0.0.1 here).
    publisher, _ = publishers.create_publisher(db, "daily", "The Test Daily")
    return publisher


def _source(db: Database, kind: str, url: str) -> Source:
    return add_source(db, "daily", kind, url)


def _reload(db: Database, source: Source) -> Source:
    with db.connect() as conn:
        return source_store.get_source(conn, source.id)


def _counts(db: Database) -> tuple[int, int]:
    with db.connect() as conn:
        stories = conn.execute(sa.select(sa.func.count()).select_from(stories_table)).scalar()
        revisions = conn.execute(sa.select(sa.func.count()).select_from(story_revisions)).scalar()
    return int(stories or 0), int(revisions or 0)


def _story(db: Database, daily: Publisher, url: str) -> story_store.Story:
    assert daily.id is not None
    with db.connect() as conn:
        found = story_store.find_story(conn, daily.id, url)
    assert found is not None
    return found


def _numbers(summary: PollSummary) -> tuple[int, int, int, int]:
    return summary.new, summary.updated, summary.unchanged, summary.withdrawn


# --- feeds -----------------------------------------------------------------------------


def test_full_content_feed_then_not_modified(
    db: Database, settings: Settings, daily: Publisher, site: Site
) -> None:
    source = _source(db, "feed", site.url("/feed.xml"))
    first = poll_source(db, settings, source)
    assert _numbers(first) == (5, 0, 0, 0)
    assert (first.refused, first.failed, first.not_modified) == ([], [], False)
    assert site.page_requests() == 0  # the feed carried every story
    stored = _story(db, daily, site.url("/news/story-3"))
    assert stored.headline == "Council weighs plan number 3"
    assert "Story 3, paragraph 4" in stored.body_text
    polled = _reload(db, source)
    assert polled.etag == '"v1"' and polled.last_error is None
    assert polled.last_result is not None and polled.last_result["new"] == 5

    again = poll_source(db, settings, polled)
    assert again.not_modified and _numbers(again) == (0, 0, 0, 0)
    sent = [headers for _, path, headers in site.server.requests if path == "/feed.xml"]
    assert sent[-1].get("If-None-Match") == '"v1"'
    assert _counts(db) == (5, 5)


def test_summary_feed_fetches_pages_once(
    db: Database, settings: Settings, daily: Publisher, site: Site
) -> None:
    site.feed_full = False
    source = _source(db, "feed", site.url("/feed.xml"))
    first = poll_source(db, settings, source)
    assert _numbers(first) == (5, 0, 0, 0)
    assert site.page_requests() == 5
    site.feed_etag = '"v2"'  # the feed is served again in full, nothing changed
    second = poll_source(db, settings, _reload(db, source))
    assert _numbers(second) == (0, 0, 5, 0)
    assert site.page_requests() == 5  # stored stories newer than the feed dates: not fetched
    # A story whose date moves past our copy is fetched and becomes revision 2.
    story = site.stories[2]
    story.body = [*story.body[:3], "A late correction: the vote is on Thursday, not Monday."]
    story.modified = datetime.now(UTC) + timedelta(minutes=5)
    site.feed_etag = '"v3"'
    third = poll_source(db, settings, _reload(db, source))
    assert _numbers(third) == (0, 1, 4, 0)
    assert site.page_requests() == 6
    assert _story(db, daily, site.url("/news/story-2")).revision == 2


def test_feed_update_makes_a_revision_and_entries_off_domain_are_refused(
    db: Database, settings: Settings, daily: Publisher, site: Site
) -> None:
    publishers.edit_publisher(db, "daily", {"domains": ["daily.example"]})
    source = _source(db, "feed", site.url("/feed.xml"))
    refused = poll_source(db, settings, source)
    assert len(refused.refused) == 5 and _counts(db) == (0, 0)
    assert "not on daily's domains (daily.example)" in refused.refused[0][1]
    assert _reload(db, source).etag == '"v1"'  # refused entries are no failure
    publishers.edit_publisher(db, "daily", {"domains": []})
    site.feed_etag = '"v2"'
    assert poll_source(db, settings, _reload(db, source)).new == 5
    site.stories[1].title = "Council approves plan number 1"
    site.feed_etag = '"v3"'
    changed = poll_source(db, settings, _reload(db, source))
    assert _numbers(changed) == (0, 1, 4, 0)
    story = _story(db, daily, site.url("/news/story-1"))
    assert (story.revision, story.headline) == (2, "Council approves plan number 1")
    assert _counts(db) == (5, 6)


def test_failed_source_keeps_its_validators(
    db: Database, settings: Settings, daily: Publisher, site: Site
) -> None:
    source = _source(db, "feed", site.url("/feed.xml"))
    poll_source(db, settings, source)
    site.server.route("/feed.xml", lambda _r: __import__("tests.servers").servers.Response(
        500, b"down", {"Content-Type": "text/plain"}))  # fmt: skip
    with pytest.raises(SourceError, match="500"):
        poll_source(db, settings, _reload(db, source))
    failed = _reload(db, source)
    assert failed.etag == '"v1"'
    assert failed.last_error is not None and "500" in failed.last_error
    assert "\n" not in failed.last_error
    assert _counts(db) == (5, 5)


def test_one_off_source_records_nothing_about_the_source(
    db: Database, settings: Settings, daily: Publisher, site: Site
) -> None:
    assert daily.id is not None
    summary = poll_source(db, settings, one_off_source(daily.id, "feed", site.url("/feed.xml")))
    assert summary.new == 5
    with db.connect() as conn:
        assert source_store.list_sources(conn) == []
        assert conn.execute(sa.text("SELECT count(*) FROM story_sources")).scalar() == 0


# --- withdrawals -----------------------------------------------------------------------


def test_wordpress_trashed_and_deleted_posts_are_withdrawn(
    db: Database, settings: Settings, daily: Publisher, site: Site
) -> None:
    source = _source(db, "wordpress", site.url("/"))
    assert _numbers(poll_source(db, settings, source)) == (5, 0, 0, 0)
    site.stories[2].status = "trash"  # the API lists it as removed
    del site.stories[4]  # deleted: gone from the listing, its page answers 404
    summary = poll_source(db, settings, _reload(db, source))
    assert _numbers(summary) == (0, 0, 3, 2)
    two = _story(db, daily, site.url("/news/story-2"))
    four = _story(db, daily, site.url("/news/story-4"))
    assert two.withdrawn_at is not None and "removed at its source" in two.withdrawn_reason
    assert four.withdrawn_at is not None and "404" in four.withdrawn_reason
    assert _story(db, daily, site.url("/news/story-1")).withdrawn_at is None
    # Withdrawing again changes nothing; a post published again is offered again.
    site.stories[2].status = "publish"
    back = poll_source(db, settings, _reload(db, source))
    assert (back.restored, back.withdrawn, back.unchanged) == (1, 0, 4)
    again = _story(db, daily, site.url("/news/story-2"))
    assert again.withdrawn_at is None and again.withdrawn_reason == "" and again.revision == 1


def test_sitemap_missing_story_withdrawn_only_when_its_page_is_gone(
    db: Database, settings: Settings, daily: Publisher, site: Site
) -> None:
    source = _source(db, "sitemap", site.url("/sitemap.xml"))
    assert _numbers(poll_source(db, settings, source)) == (5, 0, 0, 0)
    assert site.page_requests() == 5
    site.stories[3].status = "draft"  # left out of the sitemap, page still answers
    site.stories[5].status = "draft"
    site.stories[5].page_status = 410
    summary = poll_source(db, settings, _reload(db, source))
    assert _numbers(summary) == (0, 0, 3, 1)
    assert _story(db, daily, site.url("/news/story-3")).withdrawn_at is None
    gone = _story(db, daily, site.url("/news/story-5"))
    assert gone.withdrawn_at is not None and "410" in gone.withdrawn_reason
    # Listed again with its page back: fetched (withdrawn stories are never skipped).
    site.stories[5].status = "publish"
    site.stories[5].page_status = 200
    back = poll_source(db, settings, _reload(db, source))
    assert back.restored == 1 and back.withdrawn == 0
    assert _story(db, daily, site.url("/news/story-5")).withdrawn_at is None


def test_single_url_source_withdrawn_on_404_and_back(
    db: Database, settings: Settings, daily: Publisher, site: Site
) -> None:
    source = _source(db, "url", site.url("/news/story-1"))
    assert _numbers(poll_source(db, settings, source)) == (1, 0, 0, 0)
    site.stories[1].page_status = 404
    gone = poll_source(db, settings, _reload(db, source))
    assert gone.withdrawn == 1
    story = _story(db, daily, site.url("/news/story-1"))
    assert story.withdrawn_at is not None and "404" in story.withdrawn_reason
    assert _reload(db, source).last_error is None
    site.stories[1].page_status = 200
    site.stories[1].body = [*site.stories[1].body, "Update: the meeting was moved to Friday."]
    back = poll_source(db, settings, _reload(db, source))
    assert (back.updated, back.restored) == (1, 1)
    story = _story(db, daily, site.url("/news/story-1"))
    assert story.withdrawn_at is None and story.revision == 2


def test_single_url_source_server_error_is_a_failed_poll(
    db: Database, settings: Settings, daily: Publisher, site: Site
) -> None:
    site.stories[1].page_status = 503
    source = _source(db, "url", site.url("/news/story-1"))
    with pytest.raises(SourceError, match="503"):
        poll_source(db, settings, source)
    assert _counts(db) == (0, 0)
    assert "503" in (_reload(db, source).last_error or "")


# --- registry and scheduling -----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "url", "message"),
    [
        ("feed", "ftp://daily.example/feed", "not an absolute http"),
        ("feed", "not a url", "not an absolute http"),
        ("rss", "https://daily.example/feed", "unknown source kind"),
    ],
)
def test_bad_sources_store_nothing(
    db: Database, daily: Publisher, kind: str, url: str, message: str
) -> None:
    with pytest.raises(InvalidSource, match=message):
        add_source(db, "daily", kind, url)
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sources_table)).scalar() == 0


def test_duplicate_source_and_unknown_publisher(db: Database, daily: Publisher) -> None:
    from republish.store.errors import Conflict, NotFound

    add_source(db, "daily", "feed", "https://daily.example/feed")
    with pytest.raises(Conflict):
        add_source(db, "daily", "feed", "https://daily.example/feed")
    with pytest.raises(NotFound):
        add_source(db, "nobody", "feed", "https://daily.example/feed")


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("600", 600)]
)
def test_parse_interval(text: str, seconds: int) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "5s", "8d", "15 minutes", "-5m"])
def test_parse_interval_refuses(text: str) -> None:
    with pytest.raises(InvalidSource):
        parse_interval(text)


def test_poll_due_claims_each_source_once(
    db: Database, settings: Settings, daily: Publisher, site: Site
) -> None:
    feed = _source(db, "feed", site.url("/feed.xml"))
    _source(db, "url", site.url("/news/story-9"))  # answers 404: a poll that finds nothing
    seen: list[tuple[int, str | None]] = []
    count = poll_due(db, settings, concurrency=2, report=lambda s, _, e: seen.append((s.id, e)))
    assert count == 2 and len(seen) == 2
    assert poll_due(db, settings) == 0  # both moved to their next slot
    later = datetime.now(UTC) + timedelta(minutes=16)
    assert poll_due(db, settings, now=later) == 2
    assert _reload(db, feed).next_poll_at > datetime.now(UTC)


def test_scheduler_polls_in_the_background(
    db: Database, settings: Settings, daily: Publisher, site: Site
) -> None:
    source = _source(db, "feed", site.url("/feed.xml"))
    scheduler = SourceScheduler(db, settings, tick_s=0.05)
    scheduler.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while _reload(db, source).last_polled_at is None and datetime.now(UTC) < deadline:
            scheduler._stop.wait(0.05)
    finally:
        scheduler.stop()
    assert _reload(db, source).last_result == {
        "new": 5, "updated": 0, "unchanged": 0, "restored": 0, "withdrawn": 0,
        "refused": 0, "failed": 0, "not_modified": 0,
    }  # fmt: skip
    assert scheduler.polled == 1 and scheduler.last_error is None


def test_the_web_app_polls_sources_when_asked(
    db: Database, settings: Settings, daily: Publisher, site: Site
) -> None:
    from republish.web import create_app
    from tests.webclient import WebClient

    source = _source(db, "feed", site.url("/feed.xml"))
    with WebClient(create_app(settings, database=db)) as web:
        assert web.app.state.source_scheduler is None  # off unless `serve` asks for it
    assert _reload(db, source).last_polled_at is None
    with WebClient(create_app(settings, database=db, poll_sources=True)) as web:
        scheduler = web.app.state.source_scheduler
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while _reload(db, source).last_polled_at is None and datetime.now(UTC) < deadline:
            scheduler._stop.wait(0.05)
    assert not scheduler._thread.is_alive()  # stopped with the app
    assert (_reload(db, source).last_result or {}).get("new") == 5


def test_one_story_stored_by_two_transactions_at_once(db: Database, daily: Publisher) -> None:
    """Two sources listing the same story, polled in parallel: one story, no error."""
    import threading

    from republish.models import Extracted

    if db.dialect == "sqlite":
        pytest.skip("SQLite has one writer at a time: the second transaction waits")
    assert daily.id is not None
    extracted = Extracted(
        headline="Shared story",
        canonical_url="http://127.0.0.1/news/shared",
        body_html="<p>Listed twice.</p>",
        body_text="Listed twice.",
    )
    now = datetime.now(UTC)
    results: list[str] = []
    with db.begin() as first:
        _, status = story_store.save_story(first, daily.id, extracted, "feed", now)
        results.append(status)

        def second() -> None:  # blocks on the unique key until the first one commits
            with db.begin() as conn:
                results.append(story_store.save_story(conn, daily.id, extracted, "sitemap", now)[1])

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()
    thread.join(10)
    assert results == ["new", "unchanged"]
    assert _counts(db) == (1, 1)


def test_store_many_keeps_out_only_the_bad_story(db: Database, daily: Publisher) -> None:
    from republish.ingest.run import IngestError, IngestResult, store_many
    from republish.models import Extracted

    def story(n: int, headline: str) -> tuple[Extracted, str]:
        url = f"http://127.0.0.1/news/batch-{n}"
        return Extracted(
            headline=headline, canonical_url=url, body_html="<p>Text.</p>", body_text="Text."
        ), url

    items = [story(1, "One"), story(2, ""), story(3, "Three"), story(1, "One")]
    results = store_many(db, daily, items, "feed")
    assert isinstance(results[1], IngestError) and "no headline" in str(results[1])
    statuses = [r.status for r in results if isinstance(r, IngestResult)]
    assert statuses == ["new", "new", "unchanged"]  # the same story twice in one batch
    assert _counts(db) == (2, 2)


def test_fetched_pages_are_extracted_with_the_site_profile(
    db: Database, settings: Settings, daily: Publisher, site: Site, tmp_path: Path
) -> None:
    from republish.ingest.profiles import save_site_profile
    from republish.ingest.run import ingest_file
    from republish.models import SiteProfile

    # An odd choice on purpose: the footer is no headline, so only the profile puts it there.
    save_site_profile(db, "daily", SiteProfile(headline="footer"))
    site.feed_full = False
    poll_source(db, settings, _source(db, "feed", site.url("/feed.xml")))
    assert _story(db, daily, site.url("/news/story-1")).headline == "The Test Daily"
    page = tmp_path / "story.html"
    page.write_bytes(site.page(site.stories[2]).replace(b"story-2", b"story-22"))
    stored = ingest_file(db, "daily", page)
    assert stored.story.headline == "The Test Daily"
