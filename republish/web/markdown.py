"""Publisher-written Markdown (guidelines) as safe HTML: no raw HTML, then nh3."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

#: A little more than a story body may hold: guidelines have titles and code samples.
ALLOWED_TAGS = {
    "h2",
    "h3",
    "h4",
    "h5",
    "p",
    "a",
    "ul",
    "ol",
    "li",
    "em",
    "strong",
    "code",
    "pre",
    "blockquote",
    "br",
    "hr",
}
URL_SCHEMES = {"http", "https", "mailto"}

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_md.disable("image")


def render_markdown(text: str) -> str:
    """Render ``text`` as HTML that is safe to embed under a page's own ``<h1>``.

    Headings move one level down (``#`` becomes ``<h2>``), so the page keeps one h1.
    """
    tokens = _md.parse(text)
    for token in tokens:
        if token.type in {"heading_open", "heading_close"}:
            level = min(int(token.tag[1]) + 1, 5)
            token.tag = f"h{level}"
    html = _md.renderer.render(tokens, _md.options, {})
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href"}},
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
