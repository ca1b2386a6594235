"""The snippet renderer: byline, date, credit line, pixel, head tag, text, refusal."""

from __future__ import annotations

import locale
from datetime import UTC, datetime

import lxml.html
import pytest

from republish.models import Licence, Override, Publisher, Story
from republish.snippet import guidelines_summary, render_preview, render_snippet
from republish.snippet.render import PIXEL_COMMENT

BASE = "https://republish.example"
PUBLISHED = datetime(2026, 3, 7, 14, 30, tzinfo=UTC)


def _publisher(**changes: object) -> Publisher:
    values: dict[str, object] = {
        "id": 1,
        "slug": "harbor",
        "name": "Harbor Gazette",
        "home_url": "https://harbor.example/",
        "contact_email": "desk@harbor.example",
    }
    values.update(changes)
    return Publisher(**values)  # type: ignore[arg-type]


def _story(**changes: object) -> Story:
    values: dict[str, object] = {
        "id": "k3x9q2m7ab",
        "publisher_id": 1,
        "canonical_url": "https://harbor.example/2026/03/ferry-returns",
        "headline": "The ferry returns to Gull Island",
        "body_html": "<p>After two winters, the ferry is back.</p><p>Fares stay the same.</p>",
        "body_text": "After two winters, the ferry is back.\n\nFares stay the same.",
        "bylines": ("Mara Lind",),
        "published_at": PUBLISHED,
        "section": "Local",
    }
    values.update(changes)
    return Story(**values)  # type: ignore[arg-type]


def _tree(html: str) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(html, create_parent="div")


def _paragraph_texts(html: str) -> list[str]:
    return [p.text_content() for p in _tree(html).iter("p")]


@pytest.mark.parametrize(
    ("bylines", "expected"),
    [
        ((), "by Harbor Gazette"),
        (("Mara Lind",), "by Mara Lind, Harbor Gazette"),
        (("Mara Lind", "Olu Adeyemi"), "by Mara Lind and Olu Adeyemi, Harbor Gazette"),
        (
            ("Mara Lind", "Olu Adeyemi", "Petra Novak"),
            "by Mara Lind, Olu Adeyemi and Petra Novak, Harbor Gazette",
        ),
    ],
    ids=["none", "one", "two", "three"],
)
def test_byline_forms(bylines: tuple[str, ...], expected: str) -> None:
    snippet = render_snippet(_story(bylines=bylines), _publisher(), BASE)
    assert snippet.republishable
    assert _paragraph_texts(snippet.html)[0] == expected
    assert expected in snippet.text.splitlines()


def test_structure_headline_date_body_credit() -> None:
    snippet = render_snippet(_story(), _publisher(), BASE)
    tree = _tree(snippet.html)
    assert [h.text_content() for h in tree.iter("h1")] == ["The ferry returns to Gull Island"]
    (time,) = tree.iter("time")
    assert time.get("datetime") == "2026-03-07T14:30:00+00:00"
    assert time.text_content() == "March 7, 2026"
    paragraphs = _paragraph_texts(snippet.html)
    assert "After two winters, the ferry is back." in paragraphs
    assert paragraphs[-1].startswith("This story was originally published by Harbor Gazette")
    # The credit links the publisher's home page, the original story and the licence deed.
    credit = list(tree.iter("p"))[-1]
    links = {a.text_content(): a.get("href") for a in credit.iter("a")}
    assert links == {
        "Harbor Gazette": "https://harbor.example/",
        "The ferry returns to Gull Island": "https://harbor.example/2026/03/ferry-returns",
        Licence.CC_BY_ND.title: Licence.CC_BY_ND.url,
    }


def test_no_date_means_no_time_element() -> None:
    snippet = render_snippet(_story(published_at=None), _publisher(), BASE)
    assert not list(_tree(snippet.html).iter("time"))


def test_credit_template_escapes_hostile_values() -> None:
    hostile_name = '<script>alert("name")</script> & Sons'
    hostile_headline = '"><img src=x onerror=alert(1)> Ferry'
    hostile_url = 'https://harbor.example/a?b="><script>alert(2)</script>'
    publisher = _publisher(
        name=hostile_name,
        home_url='https://harbor.example/?q="onmouseover=alert(3)',
        licence=Licence.ALL_RIGHTS_RESERVED,
        credit_template="<b>Credit</b>: {publisher} | {story_link} | {url} | {headline} | "
        "{licence} | {date} {{literal}}",
    )
    story = _story(headline=hostile_headline, canonical_url=hostile_url, bylines=("<i>Eve</i>",))
    snippet = render_snippet(story, publisher, BASE)
    tree = _tree(snippet.html)
    assert not list(tree.iter("script", "b", "i"))
    assert [img.get("src") for img in tree.iter("img")] == [f"{BASE}/p/k3x9q2m7ab.gif"]
    for element in tree.iter():
        assert not [name for name in element.attrib if name.startswith("on")]
    credit = list(tree.iter("p"))[-1]
    assert credit.text_content() == (
        f"<b>Credit</b>: {hostile_name} | {hostile_headline} | {hostile_url} | "
        f"{hostile_headline} | {Licence.ALL_RIGHTS_RESERVED.title} | March 7, 2026 {{literal}}"
    )
    hrefs = [a.get("href") for a in credit.iter("a")]
    assert hrefs == [publisher.home_url, hostile_url, hostile_url]
    (link,) = lxml.html.fragment_fromstring(snippet.head).xpath("self::link")
    assert link.get("href") == hostile_url
    assert _tree(snippet.html).xpath("string(//h1)") == hostile_headline
    assert hostile_name in snippet.text


def test_publisher_without_home_page_is_not_linked() -> None:
    snippet = render_snippet(_story(), _publisher(home_url=""), BASE)
    credit = list(_tree(snippet.html).iter("p"))[-1]
    assert "Harbor Gazette" not in [a.text_content() for a in credit.iter("a")]


def test_pixel_markup() -> None:
    snippet = render_snippet(_story(), _publisher(), BASE + "/")
    tree = _tree(snippet.html)
    (img,) = tree.iter("img")
    assert dict(img.attrib).keys() == {
        "src",
        "width",
        "height",
        "alt",
        "referrerpolicy",
        "style",
    }
    assert img.get("src") == "https://republish.example/p/k3x9q2m7ab.gif"
    assert (img.get("width"), img.get("height"), img.get("alt")) == ("1", "1", "")
    assert img.get("referrerpolicy") == "no-referrer-when-downgrade"
    declarations = {}
    for declaration in img.get("style").split(";"):
        name, _, value = declaration.partition(":")
        declarations[name.strip()] = value.strip()
    for name in (
        "display",
        "width",
        "height",
        "border",
        "margin",
        "padding",
        "opacity",
        "position",
        "max-width",
        "min-width",
        "visibility",
    ):
        assert declarations[name].endswith("!important"), name
    assert declarations["opacity"].startswith("1")
    assert declarations["visibility"].startswith("visible")
    assert declarations["position"].startswith("static")
    assert declarations["display"].split("!")[0] not in {"none", ""}
    # The request to keep the pixel comes right before it, and the pixel is last.
    assert snippet.html.rstrip().endswith(">")
    assert snippet.html.index(PIXEL_COMMENT) < snippet.html.index("<img")
    assert list(tree.iter())[-1] is img


def test_head_and_text() -> None:
    snippet = render_snippet(_story(), _publisher(), BASE)
    assert (
        snippet.head == '<link rel="canonical" href="https://harbor.example/2026/03/ferry-returns">'
    )
    lines = snippet.text.splitlines()
    assert lines[0] == "The ferry returns to Gull Island"
    assert "March 7, 2026" in lines
    assert "Fares stay the same." in lines
    assert "https://harbor.example/2026/03/ferry-returns" in snippet.text
    assert "/p/" not in snippet.text and "<" not in snippet.text


def test_text_credit_carries_url_even_when_the_template_does_not() -> None:
    publisher = _publisher(credit_template="Courtesy of {publisher}.")
    snippet = render_snippet(_story(), publisher, BASE)
    assert "Courtesy of Harbor Gazette." in snippet.text
    assert "https://harbor.example/2026/03/ferry-returns" in snippet.text.splitlines()[-1]


def test_deterministic_for_one_revision() -> None:
    story, publisher = _story(bylines=("A", "B", "C")), _publisher()
    first = render_snippet(story, publisher, BASE)
    previous = locale.setlocale(locale.LC_TIME)
    try:
        for name in ("de_DE.UTF-8", "fr_FR.UTF-8"):
            try:
                locale.setlocale(locale.LC_TIME, name)
            except locale.Error:
                continue
            assert render_snippet(story, publisher, BASE) == first
    finally:
        locale.setlocale(locale.LC_TIME, previous)
    # Bookkeeping that is not content (when we stored it) does not change the snippet.
    later = story.replace(modified_at=datetime(2027, 1, 1, tzinfo=UTC))
    assert render_snippet(later, publisher, BASE) == first
    assert render_snippet(story, publisher, BASE) == first


def test_body_is_cleaned_again_on_the_way_out() -> None:
    raw = (
        '<p onclick="x()">Kept text</p><script>alert(1)</script>'
        '<p><a href="javascript:alert(1)">bad link</a> <img src=x onerror=alert(2)></p>'
        '<iframe src="https://evil.example"></iframe><p style="color:red">Styled</p>'
    )
    snippet = render_snippet(_story(body_html=raw), _publisher(), BASE)
    tree = _tree(snippet.html)
    assert not list(tree.iter("script", "iframe"))
    assert [img.get("src") for img in tree.iter("img")] == [f"{BASE}/p/k3x9q2m7ab.gif"]
    assert "Kept text" in _paragraph_texts(snippet.html)
    assert all(not a.get("href", "").startswith("javascript") for a in tree.iter("a"))
    styled = [e for e in tree.iter() if e.get("style") is not None]
    assert [e.tag for e in styled] == ["img"]


def test_wire_story_is_refused_with_reason() -> None:
    story = _story(origin="AP", origin_evidence="(AP) —")
    snippet = render_snippet(story, _publisher(), BASE)
    assert not snippet.republishable
    assert "AP" in snippet.reason
    assert (snippet.html, snippet.head, snippet.text) == ("", "", "")


def test_editor_override_allows_a_wire_story() -> None:
    override = Override(True, "Licensed for reuse", "editor", PUBLISHED)
    story = _story(origin="AP", override=override)
    snippet = render_snippet(story, _publisher(), BASE)
    assert snippet.republishable and "<h1>" in snippet.html


def test_preview_has_no_pixel_and_no_h1() -> None:
    preview = render_preview(_story(), _publisher())
    tree = _tree(preview)
    assert not list(tree.iter("img", "h1"))
    assert [h.text_content() for h in tree.iter("h2")][0] == "The ferry returns to Gull Island"


def test_guidelines_summary() -> None:
    summary = guidelines_summary(_publisher())
    assert Licence.CC_BY_ND.title in summary
    assert "Harbor Gazette" in summary and "desk@harbor.example" in summary
    reserved = guidelines_summary(_publisher(licence=Licence.ALL_RIGHTS_RESERVED, contact_email=""))
    assert "desk@" not in reserved and Licence.ALL_RIGHTS_RESERVED.title not in reserved


def test_control_characters_are_dropped() -> None:
    story = _story(headline="Ferry\x00 returns\x1b", bylines=("Mara\x07 Lind",))
    snippet = render_snippet(story, _publisher(name="Harbor\x00 Gazette"), BASE)
    for output in (snippet.html, snippet.head, snippet.text):
        assert not [c for c in output if ord(c) < 32 and c not in "\t\n\r"]
    assert "<h1>Ferry returns</h1>" in snippet.html
