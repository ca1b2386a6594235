"""A withdrawn story is refused everywhere it could be copied; revisions have diffs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import lxml.html
import pytest

from republish import publishers
from republish.models import Extracted
from republish.store import stories
from republish.store.db import Database
from tests.webclient import ADMIN, WebClient, bearer

URL = "https://daily.example/2026/ferry-vote"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _extracted(**changes: Any) -> Extracted:
    values: dict[str, Any] = {
        "headline": "Ferry vote set for Thursday",
        "canonical_url": URL,
        "body_html": "<p>The council meets on Thursday.</p><p>Fares stay the same.</p>",
        "body_text": "The council meets on Thursday.\nFares stay the same.",
    }
    values.update(changes)
    return Extracted(**values)


@pytest.fixture
def owner(db: Database) -> tuple[int, str]:
    publisher, token = publishers.create_publisher(
        db, "daily", "The Daily", {"domains": ["daily.example"]}
    )
    assert publisher.id is not None
    return publisher.id, token


@pytest.fixture
def story_id(db: Database, owner: tuple[int, str]) -> str:
    with db.begin() as conn:
        story, _ = stories.save_story(conn, owner[0], _extracted(), "feed", NOW)
    return story.id


def _withdraw(db: Database, story_id: str) -> None:
    with db.begin() as conn:
        stories.set_withdrawn(conn, story_id, "its page answered 410", NOW)


def test_withdrawn_story_is_refused_by_api_snippet_widget_and_page(
    client: WebClient, db: Database, story_id: str
) -> None:
    assert client.get(f"/api/v1/stories/{story_id}").json()["republishable"] is True
    _withdraw(db, story_id)

    story = client.get(f"/api/v1/stories/{story_id}").json()
    assert story["republishable"] is False
    assert story["reason"] == (
        "The Daily has withdrawn this story; it is no longer offered for republication."
    )
    assert story["withdrawn_at"] == NOW.isoformat()
    assert story["withdrawn_reason"] == "its page answered 410"

    snippet = client.get(f"/api/v1/stories/{story_id}/snippet").json()
    assert (snippet["republishable"], snippet["html"]) == (False, "")
    assert snippet["reason"] == story["reason"]

    widget = client.get("/api/v1/widget", params={"publisher": "daily", "url": URL}).json()
    assert (widget["found"], widget["republishable"], widget["html"]) == (True, False, "")
    assert widget["reason"] == story["reason"]

    response = client.get(f"/republish/{story_id}")
    assert response.status_code == 200
    page = lxml.html.document_fromstring(response.text)
    assert not page.xpath("//textarea")
    assert story["reason"] in page.text_content()


def test_an_override_does_not_offer_a_withdrawn_story(
    client: WebClient, db: Database, story_id: str
) -> None:
    _withdraw(db, story_id)
    response = client.post(
        f"/api/v1/stories/{story_id}/override",
        json={"republishable": True, "reason": "cleared by the desk"},
        headers=ADMIN,
    )
    assert response.status_code == 200
    assert response.json()["republishable"] is False
    assert "withdrawn" in response.json()["reason"]
    with db.begin() as conn:
        stories.set_withdrawn(conn, story_id, None, NOW + timedelta(hours=1))
    assert client.get(f"/api/v1/stories/{story_id}").json()["republishable"] is True


def test_revision_diff(
    client: WebClient, db: Database, owner: tuple[int, str], story_id: str
) -> None:
    changed = _extracted(
        headline="Ferry vote moved to Friday",
        body_html="<p>The council meets on Friday.</p><p>Fares stay the same.</p>",
        body_text="The council meets on Friday.\nFares stay the same.",
    )
    with db.begin() as conn:
        stories.save_story(conn, owner[0], changed, "feed", NOW + timedelta(hours=2))
    revisions = client.get(f"/api/v1/stories/{story_id}/revisions").json()["revisions"]
    assert [r["revision"] for r in revisions] == [1, 2]

    diff = client.get(f"/api/v1/stories/{story_id}/revisions/2/diff", headers=bearer(owner[1]))
    assert diff.status_code == 200
    data = diff.json()
    assert (data["from"], data["to"], data["changed"]) == (1, 2, True)
    assert "-Ferry vote set for Thursday\n+Ferry vote moved to Friday\n" in data["headline_diff"]
    body = data["body_diff"].splitlines()
    assert body[:2] == ["--- revision 1", "+++ revision 2"]
    assert "-The council meets on Thursday." in body
    assert "+The council meets on Friday." in body
    assert not any(line[1:] == "Fares stay the same." for line in body if line[:1] in "+-")

    first = client.get(f"/api/v1/stories/{story_id}/revisions/1/diff", headers=ADMIN).json()
    assert first["from"] == 0 and first["body_diff"].startswith("--- nothing\n+++ revision 1\n")
    same = client.get(
        f"/api/v1/stories/{story_id}/revisions/2/diff", params={"against": 2}, headers=ADMIN
    ).json()
    assert (same["changed"], same["headline_diff"], same["body_diff"]) == (False, "", "")


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/revisions/3/diff", {}, 404),
        ("/revisions/0/diff", {}, 404),
        ("/revisions/x/diff", {}, 404),
        ("/revisions/1/diff", {"against": "two"}, 422),
        ("/revisions/1/diff", {"against": "9"}, 404),
    ],
)
def test_revision_diff_bad_requests(
    client: WebClient, story_id: str, path: str, params: dict[str, str], status: int
) -> None:
    response = client.get(f"/api/v1/stories/{story_id}{path}", params=params, headers=ADMIN)
    assert response.status_code == status
    assert response.json()["error"]


def test_revision_diff_needs_the_owner(client: WebClient, db: Database, story_id: str) -> None:
    assert client.get(f"/api/v1/stories/{story_id}/revisions/1/diff").status_code == 401
    _, other = publishers.create_publisher(db, "other", "Other Paper")
    response = client.get(f"/api/v1/stories/{story_id}/revisions/1/diff", headers=bearer(other))
    assert response.status_code == 403


def test_dashboard_story_page_shows_withdrawal_and_revision_diffs(
    client: WebClient, db: Database, owner: tuple[int, str], story_id: str
) -> None:
    from republish import users
    from tests.test_stats_api import PASSWORD, login

    changed = _extracted(
        body_html="<p>The council meets on <b>Friday</b>.</p><p>Fares stay the same.</p>",
        body_text="The council meets on Friday.\nFares stay the same.",
    )
    with db.begin() as conn:
        stories.save_story(conn, owner[0], changed, "feed", NOW + timedelta(hours=2))
    _withdraw(db, story_id)
    users.create_user(db, "editor@daily.example", PASSWORD, "daily")
    login(client, "editor@daily.example")
    response = client.get(f"/dashboard/daily/stories/{story_id}")
    assert response.status_code == 200
    page = lxml.html.document_fromstring(response.text)
    notice = page.xpath("//p[@class='withdrawn']")[0].text_content()
    assert "Withdrawn 2026-11-30 09:00 UTC: its page answered 410." in notice
    revisions = page.xpath("//section[@aria-labelledby='revisions-heading']//details")
    assert len(revisions) == 2
    newest, first = revisions
    assert newest.get("open") is not None and first.get("open") is None
    assert "Revision 2" in newest.xpath("summary")[0].text_content()
    assert [d.text_content() for d in newest.xpath(".//del")] == ["-The council meets on Thursday."]
    assert [i.text_content() for i in newest.xpath(".//ins")] == ["+The council meets on Friday."]
    assert "(first stored)" in first.xpath("summary")[0].text_content()
