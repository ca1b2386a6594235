"""Structure kept: links, headings, list items and blockquotes of the story.

The truth is derived from each aeb-dev page and its ground-truth text (the benchmark has
no structure labels of its own). An element of the page counts as story structure when
its text lies inside the ground-truth article text:

- heading (``h1``-``h6``): its text, at least 2 words, is a whole line of the truth (a
  run of words inside a line is often a coincidence: a title repeated in a sentence);
- list item (``li``): its text, at least 3 words, is a whole line of the truth;
- blockquote (outermost): its text, at least 5 words, occurs in the truth; embedded
  social posts (``blockquote.twitter-tweet`` and the like) are left out: republish
  removes them on purpose, they are not the story's quotations;
- link (``a[href]``, not a fragment or ``javascript:``, not inside an embedded post):
  the whole text of the block
  holding it (nearest ``p``, ``li``, heading, ``blockquote``, ``td``, ``dd`` or ``div``),
  at least 6 words, occurs in the truth. The key is the absolute URL (joined to the
  page URL) and the anchor's words.

Keys are lower-cased ``\\w+`` words joined by spaces; a page contributes each key once.
An extractor keeps an item when its HTML output has an element of the same kind (any
heading level) with the same key; its links are made absolute against the page URL the
same way. Recall is over all items of a kind on all pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urljoin

import lxml.html
from lxml import etree

KINDS = ("links", "headings", "list items", "blockquotes")
_WORD = re.compile(r"\w+")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_LINK_BLOCKS = frozenset({"p", "li", "blockquote", "td", "dd", "div", *_HEADINGS})
_EMBED = re.compile(r"twitter-tweet|instagram-media|tiktok-embed|fb-post|bluesky-embed|embed")
_MIN_WORDS = {"headings": 2, "list items": 3, "blockquotes": 5}
_LINK_BLOCK_WORDS = 6

Items = dict[str, set[object]]


def key(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _text(element: etree._Element) -> str:
    return "".join(element.itertext())


def _href(page_url: str, href: str | None) -> str | None:
    href = (href or "").strip()
    if not href or href.startswith(("#", "javascript:", "mailto:")):
        return None
    return urljoin(page_url, href)


def _tree(html: str) -> etree._Element | None:
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None
    etree.strip_elements(root, "script", "style", "noscript", "template", with_tail=False)
    return root


def truth_items(html: str, page_url: str, truth_text: str) -> Items:
    """The page's story structure (see the module docstring)."""
    items: Items = {kind: set() for kind in KINDS}
    root = _tree(html)
    if root is None:
        return items
    haystack = f" {key(truth_text)} "
    lines = {key(line) for line in truth_text.splitlines()}

    def inside(text_key: str, min_words: int) -> bool:
        return len(text_key.split()) >= min_words and f" {text_key} " in haystack

    def own_line(text_key: str, min_words: int) -> bool:
        return len(text_key.split()) >= min_words and text_key in lines

    for heading in root.iter(*_HEADINGS):
        text_key = key(_text(heading))
        if own_line(text_key, _MIN_WORDS["headings"]):
            items["headings"].add(text_key)
    for item in root.iter("li"):
        text_key = key(_text(item))
        if own_line(text_key, _MIN_WORDS["list items"]):
            items["list items"].add(text_key)
    for quote in root.iter("blockquote"):
        if any(ancestor.tag == "blockquote" for ancestor in quote.iterancestors()):
            continue
        if _EMBED.search(quote.get("class") or ""):
            continue
        text_key = key(_text(quote))
        if inside(text_key, _MIN_WORDS["blockquotes"]):
            items["blockquotes"].add(text_key)
    for link in root.iter("a"):
        url = _href(page_url, link.get("href"))
        anchor = key(_text(link))
        if url is None or not anchor:
            continue
        if any(
            a.tag == "blockquote" and _EMBED.search(a.get("class") or "")
            for a in link.iterancestors()
        ):
            continue
        block = next((a for a in link.iterancestors() if a.tag in _LINK_BLOCKS), None)
        if block is not None and inside(key(_text(block)), _LINK_BLOCK_WORDS):
            items["links"].add((url, anchor))
    return items


def output_items(html: str, page_url: str) -> Items:
    """Every link, heading, list item and blockquote in an extractor's HTML output."""
    items: Items = {kind: set() for kind in KINDS}
    if not html.strip():
        return items
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return items
    for heading in root.iter(*_HEADINGS):
        items["headings"].add(key(_text(heading)))
    for item in root.iter("li"):
        items["list items"].add(key(_text(item)))
    for quote in root.iter("blockquote"):
        items["blockquotes"].add(key(_text(quote)))
    for link in root.iter("a"):
        url = _href(page_url, link.get("href"))
        if url is not None:
            items["links"].add((url, key(_text(link))))
    return items


def recall(truths: Iterable[Items], outputs: Iterable[Items]) -> dict[str, tuple[int, int]]:
    """Per kind: (items kept, items in the truth) over all pages."""
    kept = dict.fromkeys(KINDS, 0)
    total = dict.fromkeys(KINDS, 0)
    for truth, output in zip(truths, outputs, strict=True):
        for kind in KINDS:
            total[kind] += len(truth[kind])
            kept[kind] += len(truth[kind] & output[kind])
    return {kind: (kept[kind], total[kind]) for kind in KINDS}
