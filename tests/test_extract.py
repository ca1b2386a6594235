"""Extraction on fictional news pages written for the project (tests/data/pages)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from republish.ingest._chrome import strip_chrome
from republish.ingest.extract import extract, extracted_to_json, parse
from republish.models import Extracted

PAGES = Path(__file__).parent / "data" / "pages"


def _page(name: str, url: str = "") -> Extracted:
    return extract((PAGES / name).read_bytes(), url)


def _in_order(text: str, needles: list[str]) -> None:
    position = -1
    for needle in needles:
        found = text.find(needle, position + 1)
        assert found > position, f"{needle!r} missing or out of order"
        position = found


def test_json_ld_graph_with_coauthors() -> None:
    story = _page("graph_coauthors.html", "https://harborledger.example/2026/11/x")
    assert story.headline == "Port Alder council keeps the night ferry, for now"
    assert story.dek.startswith("A 5-2 vote buys the route")
    assert story.bylines == ("Ines Valcourt", "Teodor Mbeki-Lund")
    assert story.published_at == datetime(2026, 11, 4, 2, 30, tzinfo=UTC)
    assert story.updated_at == datetime(2026, 11, 4, 17, 15, tzinfo=UTC)
    assert story.canonical_url == (
        "https://harborledger.example/2026/11/port-alder-night-ferry-vote/"
    )
    assert story.section == "Local Government"
    assert story.tags == ("ferries", "Port Alder", "county budget")
    assert story.site_name == "The Harbor Ledger"
    assert story.origin is None


def test_graph_page_body_keeps_structure_and_absolute_links() -> None:
    story = _page("graph_coauthors.html", "https://harborledger.example/2026/11/x")
    html = story.body_html
    _in_order(
        html,
        [
            "<p>The Port Alder city council voted 5-2",
            '<a href="https://harborledger.example/2026/10/ferry-budget-gap/">had underestimated',
            "<h2>What the extension costs</h2>",
            "<ul>",
            "<li>a one-time transfer from the harbor reserve fund;</li>",
            '<a href="https://grants.example.gov/ferry-2026">applied for in September</a>',
            "</ul>",
            "<blockquote>",
            "If the boat stops at nine",
            "</blockquote>",
            "Dec. 9 meeting</a>",
        ],
    )
    # The headline, dek and byline are metadata, not the first lines of the body.
    assert "night ferry, for now" not in html
    assert "buys the route one more winter" not in html
    assert "Teodor Mbeki-Lund" not in story.body_text
    assert "The Harbor Ledger" not in story.body_text  # site header and footer
    assert story.body_text.startswith("The Port Alder city council voted 5-2")
    assert "- a 50-cent surcharge on weekend car fares;" in story.body_text
    assert "> \u201cIf the boat stops at nine" in story.body_text


def test_opengraph_only_page() -> None:
    story = _page("opengraph_only.html", "https://valleycourier.example/x?utm_source=feed")
    assert story.headline == "Kestrel Valley schools will test a four-day week next fall"
    assert story.dek == (
        "Three rural districts will pilot the schedule, trading Fridays for longer days."
    )
    assert story.canonical_url == "https://valleycourier.example/news/education/four-day-week-pilot"
    assert story.bylines == ("Mara Quell", "Devin Osei", "Priya Natarajan")
    assert story.published_at == datetime(2026, 10, 21, 14, 5, tzinfo=UTC)
    assert story.updated_at == datetime(2026, 10, 22, 6, 0, tzinfo=UTC)
    assert story.section == "Education"
    assert story.tags == ("schools", "rural districts")
    assert story.site_name == "Valley Courier"
    # The page's <h1> differs from og:title; it is still a headline, not body text.
    assert "to test four-day week" not in story.body_text
    assert story.body_text.startswith("Three school districts in the Kestrel Valley")
    assert "By Mara Quell" not in story.body_text
    _in_order(story.body_text, ["Three school districts", "Superintendent Leontyne", "review"])


def test_page_without_metadata_uses_markup_and_given_url() -> None:
    story = _page("no_metadata.html", "https://sentinel.example/2026/footbridge")
    assert story.headline == "Volunteers rebuild the Millbrook footbridge in a weekend"
    assert story.bylines == ("Ana Ruiz", "Tom Becker")
    assert story.canonical_url == "https://sentinel.example/2026/footbridge"
    assert story.published_at is None and story.updated_at is None
    assert (story.section, story.tags, story.dek) == ("", (), "")
    assert story.body_text.startswith("Forty volunteers replaced every plank")
    assert story.body_text.endswith("open to walkers and cyclists again.")
    assert story.body_html.count("<p>") == 4
    assert "Millbrook Weekly Sentinel" not in story.body_text


CHROME = [
    "Skip to content",
    "Internet Explorer",
    "upgrade your browser",
    "Advertisement",
    "Share on Facebook",
    "Share on X",
    "Copy link",
    "Route 9",  # photo caption
    "Photo by",
    "nursery, which will close",  # second caption
    "Get the Coastline Report in your inbox",
    "Sign up for our free newsletter",
    "Subscribe",
    "This is devastating news",  # embedded post
    "@someone",
    "Support independent local news",
    "Donate",
    "Republish This Story",
    "Please read before republishing",
    "keep our pixel",
    "A message from our editor",
    "covered these four towns",
    "Mira Okonkwo",
    "Join our mission",
    "Creative Commons",
    "Copy HTML",
    "covers health care for the Coastline Report",  # author bio
    "Related stories",
    "Harrowgate expands its emergency room",
    "rural towns cannot keep their doctors",
    "Be the first to comment",
    "nonprofit newsroom",
    "Privacy",
    "dataLayer",
    "min-height",
]


def test_newsroom_chrome_is_stripped() -> None:
    story = _page("newsroom_chrome.html", "https://coastlinereport.example/health/x")
    for text in CHROME:
        assert text not in story.body_html, text
        assert text not in story.body_text, text
    for tag in ("<img", "<figure", "<iframe", "<script", "<form", "<button", "<style"):
        assert tag not in story.body_html


def test_newsroom_chrome_page_keeps_the_story_in_order() -> None:
    story = _page("newsroom_chrome.html", "https://coastlinereport.example/health/x")
    assert story.headline == "Tidewater clinic closes its maternity ward"
    assert story.bylines == ("Saoirse Delacroix",)
    assert story.section == "Health"
    assert story.published_at == datetime(2026, 11, 12, 11, 0, tzinfo=UTC)
    _in_order(
        story.body_html,
        [
            "<p>Tidewater Community Clinic will stop delivering babies on Jan. 31",
            'href="https://coastlinereport.example/health/2026/09/tidewater-recruiting/"',
            "About 240 babies were born",
            "<h2>What expectant parents should know</h2>",
            "<ol>",
            "<li>Prenatal appointments at Tidewater continue as before.</li>",
            'href="https://coastlinereport.example/health/lodging-program/"',
            "</ol>",
            "<blockquote>",
            "We are not leaving these families on their own.",
            'href="https://health.example.gov/rural-maternity-report"',
            "public meeting on the closure on Dec. 4",
        ],
    )
    assert story.body_text.startswith("Tidewater Community Clinic will stop delivering")
    assert story.body_text.endswith("at the Tidewater Grange Hall.")
    assert "1. Prenatal appointments" in story.body_text


def test_wire_dateline_page_has_origin() -> None:
    story = _page("wire_dateline.html")
    assert story.bylines == ("JTA Staff",)
    assert story.origin is not None
    assert (story.origin.name, story.origin.kind) == ("JTA", "dateline")
    assert story.origin.evidence == "JERUSALEM (JTA) \u2014"
    # The dateline is part of the story text and stays in the body.
    assert story.body_text.startswith("JERUSALEM (JTA) \u2014 A desalination plant")
    assert story.tags == ("Israel", "water", "climate")


def test_partner_credit_line_is_the_origin() -> None:
    story = _page("partner_credit.html", "https://harborledger.example/arts/x")
    assert story.origin is not None
    assert story.origin.name == "Saltmarsh Gazette"
    assert story.origin.kind == "credit"
    assert "originally appeared in the Saltmarsh Gazette" in story.origin.evidence
    assert story.canonical_url == "https://harborledger.example/arts/2026/11/cannery-music-school/"
    assert story.bylines == ("Lidia Ferrante",)


def test_bytes_in_declared_legacy_charset() -> None:
    html = (
        '<html><head><meta charset="windows-1252"><title>Caf\xe9 reopens</title></head>'
        "<body><article><h1>Caf\xe9 reopens on Elm Street</h1>"
        + "".join(
            f"<p>Paragraph {n}: the caf\xe9 on Elm Street reopened with a new owner and a "
            "longer menu, and the line reached the corner by noon.</p>"
            for n in range(4)
        )
        + "</article></body></html>"
    ).encode("cp1252")
    story = extract(html, "https://news.example/cafe")
    assert story.headline == "Caf\u00e9 reopens on Elm Street"
    assert "the caf\u00e9 on Elm Street" in story.body_text


@pytest.mark.parametrize(
    "html",
    ["", "   ", "<html><body></body></html>", "<html><body><nav>Home</nav></body></html>"],
    ids=["empty", "blank", "empty-body", "only-chrome"],
)
def test_pages_without_a_story_give_an_empty_body(html: str) -> None:
    story = extract(html, "https://news.example/nothing")
    assert story.body_html == "" and story.body_text == ""
    assert story.canonical_url == "https://news.example/nothing"


def test_unsafe_markup_in_the_body_is_cleaned() -> None:
    paragraphs = "".join(
        f'<p onclick="steal()">Paragraph {n} of a long enough story about the harbor, '
        'with <a href="javascript:alert(1)">a bad link</a> and '
        f'<a href="/ok/{n}">a good one</a>.</p>'
        for n in range(5)
    )
    html = f"<html><body><article><h1>Harbor</h1>{paragraphs}</article></body></html>"
    story = extract(html, "https://news.example/harbor")
    assert "onclick" not in story.body_html
    assert "javascript:" not in story.body_html
    assert '<a href="https://news.example/ok/3">a good one</a>' in story.body_html


def test_json_ld_author_strings_and_bad_json() -> None:
    html = """<html><head>
    <script type="application/ld+json">{not json</script>
    <script type="application/ld+json">[{"@type": "BreadcrumbList"},
      {"@type": "ReportageNewsArticle", "headline": "Storm closes the pass",
       "author": "By Rui Tanaka and Oksana Bell", "datePublished": "2026-02-01",
       "keywords": "weather, roads"}]</script></head>
    <body><p>The pass closed at noon.</p></body></html>"""
    story = extract(html, "https://news.example/storm")
    assert story.headline == "Storm closes the pass"
    assert story.bylines == ("Rui Tanaka", "Oksana Bell")
    assert story.published_at == datetime(2026, 2, 1, tzinfo=UTC)
    assert story.tags == ("weather", "roads")


def test_extracted_to_json_shape() -> None:
    data = extracted_to_json(_page("wire_dateline.html"))
    assert data["published_at"] == "2026-11-18T08:00:00+00:00"
    assert data["origin"] == {
        "name": "JTA",
        "evidence": "JERUSALEM (JTA) \u2014",
        "kind": "dateline",
    }
    assert data["body_html"].startswith("<p>JERUSALEM (JTA)")


def test_teaser_link_lists_go_but_resource_lists_stay() -> None:
    paragraphs = "".join(
        f"<p>Paragraph {n} of the story about the storm shelters opening across the county "
        "this week, with hours and what to bring.</p>"
        for n in range(4)
    )
    html = (
        "<html><body><article><h1>Shelters open</h1>" + paragraphs + "<p>Where to get help:</p><ul>"
        '<li>Call the <a href="https://shelters.example.org/">County shelter finder</a> any '
        "time of day or night</li>"
        '<li>Ask the <a href="https://redcross.example.org/help">Relief line</a> about '
        "food, water and medicine</li></ul>"
        + paragraphs.replace("Paragraph", "More")
        + '<ul><li><a href="/2026/storm-damage"><img src="/a.jpg"></a>'
        '<a href="/2026/storm-damage">Storm damage in photos</a></li>'
        '<li><a href="https://www.news.example/2026/roads">Which roads are closed</a></li></ul>'
        "</article></body></html>"
    )
    story = extract(html, "https://news.example/2026/shelters")
    assert "County shelter finder" in story.body_text
    assert "Relief line" in story.body_text
    assert "Storm damage in photos" not in story.body_text
    assert "Which roads are closed" not in story.body_text


def test_teaser_boxes_go_but_story_subheadings_stay() -> None:
    story_text = "".join(
        f"<p>Story paragraph {n} about the dune restoration.</p>" for n in range(6)
    )
    root = parse(
        "<html><body><article>"
        + story_text
        + "<h2>Latest developments</h2><ul><li>Sand fencing went up on Monday.</li>"
        "<li>Volunteers planted beach grass.</li></ul>"
        '<div class="x1"><div class="x2"><span>Our Latest Stories</span></div>'
        '<ul><li><a href="/a">Harbor dredging resumes</a></li>'
        '<li><a href="/b">Ferry fares rise</a></li></ul></div>'
        "<h3>Related</h3><ul><li><a href='/c'>Beach parking</a></li></ul>"
        "</article></body></html>"
    )
    assert root is not None
    strip_chrome(root)
    text = " ".join("".join(root.itertext()).split())
    assert "Latest developments" in text and "Volunteers planted beach grass." in text
    assert "Story paragraph 5" in text
    for gone in (
        "Our Latest Stories",
        "Harbor dredging",
        "Ferry fares",
        "Related",
        "Beach parking",
    ):
        assert gone not in text


def _local_story(extra: str) -> str:
    paragraphs = "".join(
        f"<p>Paragraph {n}: the county fair opened with a record crowd and a new livestock "
        "barn built by the 4-H clubs over the summer.</p>"
        for n in range(4)
    )
    return f"<html><body><article><h1>Fair opens</h1>{extra}{paragraphs}</article></body></html>"


def test_photo_credit_is_not_an_origin() -> None:
    figure = (
        '<figure><img src="/fair.jpg"><figcaption>The new barn. '
        '<span class="credit">\u00a9 2026 The Associated Press</span></figcaption></figure>'
        '<div class="photo-credit">Copyright 2026 The Associated Press</div>'
    )
    story = extract(_local_story(figure), "https://news.example/fair")
    assert story.origin is None
    assert "Associated Press" not in story.body_text


def test_credit_note_outside_the_body_is_an_origin() -> None:
    note = '<p class="syndication-credit">This story originally appeared in Haaretz.</p>'
    html = _local_story("").replace("</article>", "</article>" + note)
    story = extract(html, "https://news.example/fair")
    assert story.origin is not None
    assert (story.origin.name, story.origin.kind) == ("Haaretz", "credit")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("<p>Caf\u00e9</p>".encode(), "Caf\u00e9"),
        ("<p>Caf\u00e9</p>".encode("cp1252"), "Caf\u00e9"),  # not UTF-8, no charset
        (b'<meta charset="no-such-charset"><p>Caf\xc3\xa9</p>', "Caf\u00e9"),
        (b"\xef\xbb\xbf<p>Caf\xc3\xa9</p>", "Caf\u00e9"),  # BOM
    ],
    ids=["utf8", "cp1252-fallback", "unknown-charset", "bom"],
)
def test_decode(content: bytes, expected: str) -> None:
    from republish.ingest.extract import decode

    assert expected in decode(content)


def test_xhtml_with_xml_declaration() -> None:
    html = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Tide tables</title></head>'
        "<body><h1>Tide tables change</h1><p>The harbor office printed new tide tables.</p>"
        "</body></html>"
    )
    story = extract(html, "https://news.example/tides")
    assert story.headline == "Tide tables change"
    assert "new tide tables" in story.body_text


def test_short_story_with_a_list() -> None:
    html = (
        "<html><body><nav><a href='/'>Home</a></nav><article><h1>Pass closed</h1>"
        "<p>The pass closed at noon.</p><ul><li>Use Route 4.</li></ul></article></body></html>"
    )
    story = extract(html, "https://news.example/pass")
    assert story.body_text == "The pass closed at noon.\n\n- Use Route 4."
    assert "Home" not in story.body_text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-03T16:05:00-05:00", datetime(2026, 11, 3, 21, 5, tzinfo=UTC)),
        ("2026-11-03T21:05:00Z", datetime(2026, 11, 3, 21, 5, tzinfo=UTC)),
        ("2026-11-03 21:05", datetime(2026, 11, 3, 21, 5, tzinfo=UTC)),
        ("Nov. 3, 2026 4:05 PM EST", datetime(2026, 11, 3, 21, 5, tzinfo=UTC)),
        ("November 3, 2026 4:05 PM XYZT", datetime(2026, 11, 3, 16, 5, tzinfo=UTC)),
        ("yesterday", None),
        ("4:05 PM", None),
        ("", None),
    ],
    ids=["offset", "zulu", "naive", "textual-est", "unknown-zone", "words", "no-year", "empty"],
)
def test_page_dates(value: str, expected: datetime | None) -> None:
    from republish.ingest._dates import parse_date

    assert parse_date(value) == expected


def test_loose_text_is_gathered_into_paragraphs() -> None:
    page = (
        "<html><body><nav><a href='/'>Home</a></nav><div class='story'>"
        "Loose opening with <a href='https://x.example/'>a link</a> inside, long enough "
        "to count as the story's own text and not a caption or a label.<br>"
        "<p>A paragraph that is long enough to be scored as part of the story.</p>"
        "Trailing words<div>Plain div text</div></div></body></html>"
    )
    story = extract(page, "https://news.example/a")
    assert story.body_html == (
        '<p>Loose opening with <a href="https://x.example/">a link</a> inside, long enough '
        "to count as the story's own text and not a caption or a label.<br></p>"
        "<p>A paragraph that is long enough to be scored as part of the story.</p>"
        "<p>Trailing words</p><p>Plain div text</p>"
    )


def test_very_short_story_is_still_found() -> None:
    html = (
        "<html><body><nav><a href='/'>Home</a></nav><article><h1>Road closed</h1>"
        "<p>Elm St. is shut.</p><p>Detour via Oak.</p></article>"
        "<footer>Site footer</footer></body></html>"
    )
    story = extract(html, "https://news.example/road")
    assert story.body_text == "Elm St. is shut.\n\nDetour via Oak."


def test_a_header_heading_part_of_the_story_stays() -> None:
    paragraphs = "".join(
        f"<p>Paragraph {n} of the long read about the harbor's first winter without ice.</p>"
        for n in range(4)
    )
    html = (
        "<html><body><header class='top'><a href='/'>The Harbor Ledger</a></header>"
        "<article><header><h1>A winter without ice</h1><p>By Ines Valcourt</p></header>"
        f"{paragraphs}<section><header><h2>The fishermen</h2></header>{paragraphs}</section>"
        "</article></body></html>"
    )
    story = extract(html, "https://harborledger.example/ice")
    assert "<h2>The fishermen</h2>" in story.body_html
    assert "A winter without ice" not in story.body_text
    assert "Harbor Ledger" not in story.body_text
