"""Push payloads: validation table and what a valid payload becomes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from republish.ingest.push import InvalidPush, story_from_push

GOOD: dict[str, Any] = {
    "url": "https://harborledger.example/2026/11/ferry",
    "headline": "Council keeps the night ferry",
    "body_html": '<p>The council voted 5-2.</p><p>See <a href="/docs/vote">the vote</a>.</p>'
    "<script>alert(1)</script><img src=x>",
}


def _with(**changes: Any) -> dict[str, Any]:
    payload = dict(GOOD)
    for key, value in changes.items():
        if value is _MISSING:
            payload.pop(key, None)
        else:
            payload[key] = value
    return payload


_MISSING = object()


def test_minimal_payload() -> None:
    story = story_from_push(GOOD)
    assert story.canonical_url == GOOD["url"]
    assert story.headline == "Council keeps the night ferry"
    assert "<script" not in story.body_html and "<img" not in story.body_html
    assert '<a href="https://harborledger.example/docs/vote">the vote</a>' in story.body_html
    assert story.body_text.startswith("The council voted 5-2.")
    assert story.origin is None
    assert story.bylines == () and story.published_at is None


def test_full_payload() -> None:
    story = story_from_push(
        _with(
            dek="A 5-2 vote",
            bylines="By Ines Valcourt and Teodor Mbeki-Lund",
            published_at="2026-11-03T18:30:00-08:00",
            updated_at="2026-11-04T09:15:00Z",
            section="Local",
            tags=["ferries", "council", "ferries"],
        )
    )
    assert story.bylines == ("Ines Valcourt", "Teodor Mbeki-Lund")
    assert story.published_at == datetime(2026, 11, 4, 2, 30, tzinfo=UTC)
    assert story.updated_at == datetime(2026, 11, 4, 9, 15, tzinfo=UTC)
    assert (story.dek, story.section, story.tags) == ("A 5-2 vote", "Local", ("ferries", "council"))


def test_bylines_as_list_and_naive_date_is_utc() -> None:
    story = story_from_push(_with(bylines=["Ana Ruiz", "Tom Becker"], published_at="2026-01-02"))
    assert story.bylines == ("Ana Ruiz", "Tom Becker")
    assert story.published_at == datetime(2026, 1, 2, tzinfo=UTC)


def test_explicit_origin_is_metadata() -> None:
    story = story_from_push(_with(origin="Associated Press"))
    assert story.origin is not None
    assert (story.origin.name, story.origin.kind) == ("AP", "metadata")


def test_origin_detected_in_pushed_body() -> None:
    story = story_from_push(_with(body_html="<p>JERUSALEM (JTA) \u2014 The plant opened.</p>"))
    assert story.origin is not None
    assert (story.origin.name, story.origin.kind) == ("JTA", "dateline")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([GOOD], "payload: expected a JSON object"),
        ("story", "payload: expected a JSON object"),
        (_with(url=_MISSING), "url: required"),
        (_with(url=""), "url: must not be empty"),
        (_with(url=42), "url: expected a string"),
        (_with(url="ftp://files.example/story"), "url: not an absolute http(s) URL"),
        (_with(url="/2026/ferry"), "url: not an absolute http(s) URL"),
        (_with(url="javascript:alert(1)"), "url: not an absolute http(s) URL"),
        (_with(headline=_MISSING), "headline: required"),
        (_with(headline="   "), "headline: must not be empty"),
        (_with(headline=["x"]), "headline: expected a string"),
        (_with(headline="x" * 2001), "headline: longer than"),
        (_with(section="s" * 201), "section: longer than 200 characters"),
        (_with(origin="o" * 201), "origin: longer than 200 characters"),
        (_with(body_html=_MISSING), "body_html: required"),
        (_with(body_html=""), "body_html: must not be empty"),
        (_with(body_html={"p": "x"}), "body_html: expected a string"),
        (_with(body_html="<script>alert(1)</script>"), "body_html: no text left after cleaning"),
        (_with(dek=5), "dek: expected a string"),
        (_with(bylines=5), "bylines: expected a list of names or a string"),
        (_with(bylines=["Ana Ruiz", 7]), "bylines[1]: expected a string"),
        (_with(bylines=["Ana Ruiz", " "]), "bylines[1]: must not be empty"),
        (_with(bylines="By , and"), "bylines: no author names"),
        (_with(published_at="yesterday"), "published_at: not an ISO 8601 date"),
        (_with(published_at="2026-13-45"), "published_at: not an ISO 8601 date"),
        (_with(updated_at=1700000000), "updated_at: expected an ISO 8601 date string"),
        (_with(section=["Local"]), "section: expected a string"),
        (_with(tags="ferries"), "tags: expected a list of strings"),
        (_with(tags=["ok", None]), "tags[1]: expected a string"),
        (_with(origin=1), "origin: expected a string"),
        (_with(headlne="typo"), "headlne: unknown field"),
    ],
    ids=[
        "list",
        "string",
        "url-missing",
        "url-empty",
        "url-number",
        "url-ftp",
        "url-relative",
        "url-javascript",
        "headline-missing",
        "headline-blank",
        "headline-list",
        "headline-too-long",
        "section-too-long",
        "origin-too-long",
        "body-missing",
        "body-empty",
        "body-object",
        "body-only-script",
        "dek-number",
        "bylines-number",
        "bylines-item-number",
        "bylines-item-blank",
        "bylines-malformed-string",
        "date-words",
        "date-impossible",
        "date-epoch-number",
        "section-list",
        "tags-string",
        "tags-item-null",
        "origin-number",
        "unknown-field",
    ],
)
def test_invalid_payloads(payload: object, message: str) -> None:
    with pytest.raises(InvalidPush) as caught:
        story_from_push(payload)
    text = str(caught.value)
    assert text.startswith(message)
    assert "\n" not in text
