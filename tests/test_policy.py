"""The policy decides from the story and the publisher's rules alone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from republish.models import Override, Publisher, Story
from republish.policy import decide

PUBLISHER = Publisher(
    slug="daily",
    name="The Daily",
    excluded_sections=("Opinion",),
    excluded_tags=("Sponsored",),
    excluded_authors=("Guest Columnist",),
)
STORY = Story(
    id="abc",
    publisher_id=1,
    canonical_url="https://daily.example/a",
    headline="A",
    body_html="<p>x</p>",
    body_text="x",
    bylines=("Ana Ruiz",),
    section="Local",
    tags=("transport",),
)
AT = datetime(2026, 11, 24, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "republishable", "code", "phrase"),
    [
        ({}, True, "ok", "The Daily offers"),
        ({"origin": "JTA"}, False, "origin", "came from JTA and is not ours to offer"),
        ({"origin": "jta"}, False, "origin", "came from jta"),
        ({"origin": "Local Partner Weekly"}, True, "ok", "offers"),
        ({"section": "opinion"}, False, "section", "opinion section"),
        ({"tags": ("news", "SPONSORED")}, False, "tag", "SPONSORED"),
        ({"bylines": ("Ana Ruiz", "Guest  Columnist")}, False, "author", "Guest  Columnist"),
        (
            {"origin": "AP", "override": Override(True, "Licensed from AP", "ed", AT)},
            True,
            "override",
            "offers",
        ),
        (
            {"override": Override(False, "Under legal review.", "ed", AT)},
            False,
            "override",
            "Under legal review.",
        ),
        (
            {"override": Override(False, "", "ed", AT)},
            False,
            "override",
            "not made this story available",
        ),
    ],
    ids=[
        "plain",
        "wire",
        "wire-case",
        "partner-not-excluded",
        "section",
        "tag",
        "author-spacing",
        "override-allow",
        "override-deny",
        "override-deny-no-reason",
    ],
)
def test_decide(changes: dict[str, object], republishable: bool, code: str, phrase: str) -> None:
    decision = decide(STORY.replace(**changes), PUBLISHER)
    assert decision.republishable is republishable
    assert decision.code == code
    assert phrase in decision.reason


def test_default_excluded_origins_cover_common_wires() -> None:
    publisher = Publisher(slug="x", name="X")
    for wire in ("AP", "Reuters", "AFP", "Bloomberg", "JTA", "Haaretz"):
        assert not decide(STORY.replace(origin=wire), publisher).republishable, wire
