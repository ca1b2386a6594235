"""Site profiles: CSS selectors that override automatic extraction on a publisher's pages."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from republish.ingest._profile import ProfileError, check_profile
from republish.ingest.extract import extract
from republish.models import SiteProfile

PAGE = (Path(__file__).parent / "data" / "pages" / "profile_site.html").read_text()
URL = "https://millbrooksentinel.example/2026/10/library-reopens"

PROFILE = SiteProfile(
    body="div.txt",
    headline=".t-big",
    byline=".who .nm",
    published=".when .stamp",
    exclude=(".inline-offer",),
)


def test_profile_overrides_every_part() -> None:
    story = extract(PAGE, URL, profile=PROFILE)
    assert story.headline == "Millbrook library reopens its reading room after the flood"
    assert story.bylines == ("Odile Frankel", "Bram Sethi")
    # The visible text carries the time zone; the date is read from it.
    assert story.published_at == datetime(2026, 10, 2, 14, 0, tzinfo=UTC)
    assert "reading room on Birch Street opened again" in story.body_text
    assert "bake-sale fund" in story.body_text
    assert "Sign up here" not in story.body_text  # excluded
    assert "Popular right now" not in story.body_text  # outside the body selector
    # The profile body is still cleaned: links absolute, no class attributes, no divs.
    assert '<a href="https://millbrooksentinel.example/people/rosa-imbert">' in story.body_html
    assert "class=" not in story.body_html
    assert "<div" not in story.body_html


def test_positional_and_keyword_profile_agree() -> None:
    assert extract(PAGE, URL, PROFILE) == extract(PAGE, URL, profile=PROFILE)


def test_without_profile_the_automatic_result_differs() -> None:
    story = extract(PAGE, URL)
    assert story.headline == "Generic site title that the profile overrides"
    assert story.bylines == ()


def test_selectors_matching_nothing_leave_the_automatic_result() -> None:
    profile = SiteProfile(body=".nope", headline=".nope", byline=".nope", published=".nope")
    assert extract(PAGE, URL, profile=profile) == extract(PAGE, URL)


def test_empty_profile_is_no_profile() -> None:
    assert extract(PAGE, URL, profile=SiteProfile()) == extract(PAGE, URL)


def test_exclude_alone_applies_to_the_automatic_body() -> None:
    profile = SiteProfile(exclude=(".txt .para:first-child",))
    story = extract(PAGE, URL, profile=profile)
    assert "Birch Street" not in story.body_text
    assert "four thousand books" in story.body_text


def test_profile_body_with_unsafe_markup_is_cleaned() -> None:
    page = (
        "<html><body><main><section id='s'><p onclick='x()'>Safe text here.</p>"
        "<script>alert(1)</script><a href='javascript:alert(1)'>bad</a>"
        "<iframe src='https://evil.example/'></iframe></section></main></body></html>"
    )
    story = extract(page, "https://news.example/a", profile=SiteProfile(body="#s"))
    assert story.body_html.startswith("<p>Safe text here.</p>")
    for unsafe in ("onclick", "script", "javascript", "iframe", "evil.example"):
        assert unsafe not in story.body_html


@pytest.mark.parametrize("field", ["body", "headline", "byline", "published"])
def test_invalid_selector_is_refused_by_check_and_ignored_by_extract(field: str) -> None:
    profile = SiteProfile(**{field: "div[[["})
    with pytest.raises(ProfileError, match="invalid CSS selector"):
        check_profile(profile)
    assert extract(PAGE, URL, profile=profile) == extract(PAGE, URL)


def test_invalid_exclude_selector_is_refused() -> None:
    with pytest.raises(ProfileError):
        check_profile(SiteProfile(exclude=("p", "::")))
    check_profile(PROFILE)  # a valid profile passes
