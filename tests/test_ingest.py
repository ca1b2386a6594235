"""Ingest through the library and ``republish ingest``: real database, real loopback server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from republish import publishers
from republish.cli import cli
from republish.config import Settings
from republish.ingest.push import story_from_push
from republish.ingest.run import IngestError, ingest_extracted, ingest_file, ingest_url
from republish.models import Extracted
from republish.store import stories
from republish.store.db import Database
from republish.store.schema import stories as stories_table
from republish.store.schema import story_revisions
from tests.servers import LoopbackServer, Response

PAGES = Path(__file__).parent / "data" / "pages"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HTML = {"Content-Type": "text/html; charset=utf-8"}


@pytest.fixture
def ledger(db: Database) -> str:
    publishers.create_publisher(db, "ledger", "The Harbor Ledger", now=NOW)
    return "ledger"


def _count(db: Database) -> tuple[int, int]:
    with db.connect() as conn:
        story_count = conn.execute(sa.select(sa.func.count()).select_from(stories_table)).scalar()
        revision_count = conn.execute(
            sa.select(sa.func.count()).select_from(story_revisions)
        ).scalar()
    return int(story_count or 0), int(revision_count or 0)


def _page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def _run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


# --- library -------------------------------------------------------------------------


def test_ingest_file_new_then_unchanged(db: Database, ledger: str) -> None:
    first = ingest_file(db, ledger, PAGES / "graph_coauthors.html")
    assert first.status == "new"
    assert first.story.revision == 1
    assert first.story.bylines == ("Ines Valcourt", "Teodor Mbeki-Lund")
    assert first.story.canonical_url.endswith("/port-alder-night-ferry-vote/")
    assert first.decision.republishable and first.decision.code == "ok"
    again = ingest_file(db, ledger, PAGES / "graph_coauthors.html")
    assert (again.status, again.story.id, again.story.revision) == ("unchanged", first.story.id, 1)
    assert _count(db) == (1, 1)


def test_ingest_url_then_changed_page_is_revision_2(
    db: Database, settings: Settings, ledger: str, http_server: LoopbackServer
) -> None:
    original = _page("no_metadata.html")
    url = http_server.route("/2026/footbridge", Response(200, original, HTML))
    first = ingest_url(db, settings, ledger, url)
    assert first.status == "new"
    assert first.story.canonical_url == url
    changed = original.replace(b"Forty volunteers", b"Forty-two volunteers")
    http_server.route("/2026/footbridge", Response(200, changed, HTML))
    second = ingest_url(db, settings, ledger, url)
    assert (second.status, second.story.id, second.story.revision) == (
        "updated",
        first.story.id,
        2,
    )
    assert second.story.body_text.startswith("Forty-two volunteers")
    with db.connect() as conn:
        revisions = stories.list_revisions(conn, first.story.id)
    assert [(r.revision, r.source) for r in revisions] == [(1, "url"), (2, "url")]
    assert revisions[0].body_text.startswith("Forty volunteers")


def test_ingest_url_uses_the_charset_of_the_content_type(
    db: Database, settings: Settings, ledger: str, http_server: LoopbackServer
) -> None:
    paragraphs = "".join(
        f"<p>Paragraph {n}: the caf\u00e9 on Quay Street reopened with a new owner, a longer "
        "menu and a queue that reached the harbor wall by noon.</p>"
        for n in range(4)
    )
    page = f"<html><body><article><h1>Caf\u00e9 reopens</h1>{paragraphs}</article></body></html>"
    url = http_server.route(
        "/cafe",
        Response(200, page.encode("latin-1"), {"Content-Type": "text/html; charset=iso-8859-1"}),
    )
    result = ingest_url(db, settings, ledger, url)
    assert result.story.headline == "Caf\u00e9 reopens"
    assert "the caf\u00e9 on Quay Street" in result.story.body_text


def test_wire_story_is_stored_but_not_republishable(db: Database, ledger: str) -> None:
    result = ingest_file(db, ledger, PAGES / "wire_dateline.html")
    assert result.story.origin == "JTA"
    assert result.story.origin_evidence == "JERUSALEM (JTA) \u2014"
    assert not result.decision.republishable
    assert result.decision.code == "origin"
    assert "JTA" in result.decision.reason


def test_file_url_sets_canonical(db: Database, ledger: str) -> None:
    result = ingest_file(
        db, ledger, PAGES / "no_metadata.html", "https://sentinel.example/footbridge"
    )
    assert result.story.canonical_url == "https://sentinel.example/footbridge"


def test_push_story_through_ingest_extracted(db: Database, ledger: str) -> None:
    extracted = story_from_push(
        {
            "url": "https://harborledger.example/2026/push",
            "headline": "Pushed story",
            "body_html": "<p>Text from the CMS.</p>",
            "bylines": ["Ana Ruiz"],
        }
    )
    result = ingest_extracted(db, ledger, extracted, "push")
    assert result.status == "new"
    with db.connect() as conn:
        assert stories.list_revisions(conn, result.story.id)[0].source == "push"


def test_credit_naming_the_publisher_itself_is_not_an_origin(db: Database, ledger: str) -> None:
    extracted = story_from_push(
        {
            "url": "https://harborledger.example/2026/own",
            "headline": "Our own story",
            "body_html": "<p>Text.</p><p>This story was originally published by The Harbor "
            "Ledger.</p>",
        }
    )
    assert extracted.origin is not None  # detection alone cannot know who "we" are
    result = ingest_extracted(db, ledger, extracted, "push")
    assert result.story.origin == ""
    assert result.decision.republishable


@pytest.mark.parametrize(
    ("extracted", "message"),
    [
        (
            Extracted(canonical_url="https://x.example/a", body_text="t", body_html="<p>t</p>"),
            "no headline found",
        ),
        (Extracted(canonical_url="https://x.example/a", headline="H"), "no story text found"),
        (Extracted(headline="H", body_text="t", body_html="<p>t</p>"), "no canonical URL"),
    ],
    ids=["no-headline", "empty-body", "no-canonical"],
)
def test_incomplete_story_is_refused(
    db: Database, ledger: str, extracted: Extracted, message: str
) -> None:
    with pytest.raises(IngestError, match=message):
        ingest_extracted(db, ledger, extracted, "push")
    assert _count(db) == (0, 0)


def test_unknown_publisher(db: Database) -> None:
    with pytest.raises(IngestError, match="unknown publisher 'nobody'"):
        ingest_file(db, "nobody", PAGES / "no_metadata.html", "https://x.example/a")
    assert _count(db) == (0, 0)


# --- republish ingest ----------------------------------------------------------------


def test_cli_ingest_prints_status_id_and_decision(
    cli_env: dict[str, str], db: Database, ledger: str, http_server: LoopbackServer
) -> None:
    url = http_server.route("/world/plant", Response(200, _page("wire_dateline.html"), HTML))
    code, out, err = _run(
        cli_env,
        "ingest",
        "--publisher",
        ledger,
        str(PAGES / "graph_coauthors.html"),
        url,
    )
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2
    with db.connect() as conn:
        stored = {story.id: story for story in stories.list_stories(conn)}
    first, second = (line.split("\t") for line in lines)
    assert first[0] == "new" and first[1] in stored and first[3] == "republishable"
    assert second[0] == "new" and second[1] in stored
    assert second[3].startswith("not republishable: This story came from JTA")
    code, out, _ = _run(cli_env, "ingest", "--publisher", ledger, url)
    assert code == 0 and out.startswith("unchanged\t" + second[1])


@pytest.fixture
def bad_server(http_server: LoopbackServer) -> Iterator[LoopbackServer]:
    http_server.route(
        "/report.pdf", Response(200, b"%PDF-1.7 ...", {"Content-Type": "application/pdf"})
    )

    def huge() -> Iterator[bytes]:
        chunk = b"<p>" + b"x" * (1024 * 1024) + b"</p>"
        for _ in range(11):
            yield chunk

    http_server.route("/huge", Response(200, huge(), {"Content-Type": "text/html"}))
    http_server.route("/no-story", Response(200, b"<html><body></body></html>", HTML))
    yield http_server


@pytest.mark.parametrize(
    ("path", "env_changes", "expected"),
    [
        ("/report.pdf", {}, "application/pdf"),
        ("/missing", {}, "404"),
        ("/huge", {}, "10"),
        ("/no-story", {}, "no headline found"),
        ("http://10.1.2.3/story", {}, "10.1.2.3"),
        ("/fine-but-loopback", {"REPUBLISH_FETCH_ALLOW": ""}, "127.0.0.1"),
    ],
    ids=["pdf", "404", "over-10MB", "no-story", "private-address", "loopback-not-allowed"],
)
def test_cli_ingest_bad_url_inputs(
    cli_env: dict[str, str],
    db: Database,
    ledger: str,
    bad_server: LoopbackServer,
    path: str,
    env_changes: dict[str, str],
    expected: str,
) -> None:
    bad_server.route("/fine-but-loopback", Response(200, _page("no_metadata.html"), HTML))
    url = path if path.startswith("http") else bad_server.url(path)
    before = _count(db)
    code, out, err = _run(cli_env | env_changes, "ingest", "--publisher", ledger, url)
    assert code != 0
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    assert expected in lines[0]
    assert _count(db) == before == (0, 0)
    if path.startswith("http://10."):
        assert all(request[1] != "/story" for request in bad_server.requests)


def test_cli_ingest_unknown_publisher(cli_env: dict[str, str], db: Database) -> None:
    code, _, err = _run(cli_env, "ingest", "--publisher", "nobody", str(PAGES / "no_metadata.html"))
    assert code == 1
    assert err.strip() == "Error: unknown publisher 'nobody'"
    assert _count(db) == (0, 0)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.html", None, "cannot read"),
        ("notes.txt", b"just some words", "not an HTML page"),
        ("empty.html", b"", "not an HTML page"),
        ("report.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\n\x00\x01", "not an HTML page"),
    ],
    ids=["missing", "not-html", "empty", "pdf"],
)
def test_cli_ingest_bad_files(
    cli_env: dict[str, str],
    db: Database,
    ledger: str,
    tmp_path: Path,
    name: str,
    content: bytes | None,
    expected: str,
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    code, _, err = _run(
        cli_env, "ingest", "--publisher", ledger, str(path), "--url", "https://x.example/a"
    )
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and expected in err
    assert _count(db) == (0, 0)


def test_cli_ingest_file_without_canonical_needs_url(
    cli_env: dict[str, str], db: Database, ledger: str
) -> None:
    code, _, err = _run(cli_env, "ingest", "--publisher", ledger, str(PAGES / "no_metadata.html"))
    assert code == 1 and "no canonical URL" in err
    code, out, _ = _run(
        cli_env,
        "ingest",
        "--publisher",
        ledger,
        str(PAGES / "no_metadata.html"),
        "--url",
        "https://sentinel.example/footbridge",
    )
    assert code == 0 and out.startswith("new\t")
    assert _count(db) == (1, 1)


def test_cli_ingest_several_inputs_one_bad(
    cli_env: dict[str, str], db: Database, ledger: str, tmp_path: Path
) -> None:
    code, out, err = _run(
        cli_env,
        "ingest",
        "--publisher",
        ledger,
        str(PAGES / "graph_coauthors.html"),
        str(tmp_path / "missing.html"),
        str(PAGES / "opengraph_only.html"),
    )
    assert code == 1
    assert [line.split("\t")[0] for line in out.strip().splitlines()] == ["new", "new"]
    assert err.count("\n") == 1 and "missing.html" in err
    assert _count(db) == (2, 2)


def test_cli_url_option_needs_a_single_file(cli_env: dict[str, str], ledger: str) -> None:
    code, _, err = _run(
        cli_env, "ingest", "--publisher", ledger, "a.html", "b.html", "--url", "https://x.example"
    )
    assert code == 2 and "--url applies to a single file" in err
