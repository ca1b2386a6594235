"""The allow-list sanitizer keeps story structure and nothing else."""

from __future__ import annotations

import pytest

from republish.clean import clean_html, to_text


def test_keeps_structure_and_makes_links_absolute() -> None:
    html = (
        '<div class="x"><h1>Title</h1><p>One <a href="/a?b=1">link</a> and '
        "<strong>bold</strong>, <em>em</em>.<br>Next line.</p>"
        "<ul><li>first</li><li>second</li></ul><ol><li>a</li></ol>"
        "<blockquote><p>Quoted.</p></blockquote><h5>Small</h5></div>"
    )
    assert clean_html(html, "https://news.example/2026/story") == (
        '<h2>Title</h2><p>One <a href="https://news.example/a?b=1">link</a> and '
        "<strong>bold</strong>, <em>em</em>.<br>Next line.</p>"
        "<ul><li>first</li><li>second</li></ul><ol><li>a</li></ol>"
        "<blockquote><p>Quoted.</p></blockquote><h4>Small</h4>"
    )


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<p><a href="javascript:alert(1)">x</a></p>', "<p>x</p>"),
        ('<p><a href="#section">x</a></p>', "<p>x</p>"),
        (
            '<p><a href="mailto:desk@news.example">mail</a></p>',
            '<p><a href="mailto:desk@news.example">mail</a></p>',
        ),
        ("<p>a<script>alert(1)</script>b</p>", "<p>ab</p>"),
        ('<p style="color:red" onclick="x()" class="c">a</p>', "<p>a</p>"),
        ("<figure><img src=x><figcaption>Photo: A. B.</figcaption></figure><p>t</p>", "<p>t</p>"),
        ("<p> </p><p><strong></strong></p><p>t</p>", "<p>t</p>"),
        ("<iframe src=//evil></iframe><p>t</p>", "<p>t</p>"),
    ],
    ids=["js-link", "fragment-link", "mailto", "script", "attrs", "figure", "empty", "iframe"],
)
def test_removes_what_is_not_allowed(html: str, expected: str) -> None:
    assert clean_html(html, "https://news.example/") == expected


def test_plain_text_blocks_lists_quotes_links() -> None:
    clean = (
        '<h2>Head</h2><p>See <a href="https://x.example/">the report</a>.</p>'
        "<ul><li>one</li><li>two</li></ul><ol><li>first</li></ol>"
        "<blockquote><p>Said it.</p></blockquote><p>Line<br>break</p>"
    )
    assert to_text(clean, link_targets=True) == (
        "Head\n\nSee the report [https://x.example/].\n\n- one\n- two\n\n1. first"
        "\n\n> Said it.\n\nLine\nbreak"
    )
    assert to_text(clean).startswith("Head\n\nSee the report.\n\n- one")
    assert to_text("") == ""
