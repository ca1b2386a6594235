"""The story's main content in a page already stripped of chrome markup.

Our own heuristics, in one pass over the page's paragraph-like blocks:

1. Each block (``p``, ``pre``, a table row without blocks, a ``div``/``td``/... with at
   least 100 characters of its own text) scores its text outside links; link-dense blocks
   score nothing.
2. A block's score goes to every ancestor (``total``) and to its first non-inline parent
   (``direct``: the element the paragraphs sit in).
3. The container is an element marked as the story body (``itemprop=articleBody`` or a
   class/id such as ``article-body``, ``entry-content``) holding a fair share of the
   page's text; else the element with the highest ``direct`` score, together with its
   siblings that hold paragraphs of their own (a story split by ads or asides).
4. The body is the container's blocks in document order (headings, paragraphs, lists,
   quotes, preformatted text, tables); link lists and blocks that are mostly a link go,
   and loose text between blocks becomes paragraphs.
"""

from __future__ import annotations

import re
from copy import deepcopy

from lxml import etree

from republish.ingest._text import text_of as _string

#: Blocks kept whole in the body.
BLOCK_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "blockquote", "pre", "table"}
)
_LISTS = frozenset({"ul", "ol", "dl", "table"})
#: Elements a paragraph's score passes through to reach the element it sits in.
_TRANSPARENT = frozenset(
    {"blockquote", "ul", "ol", "li", "span", "font", "b", "i", "em", "strong", "center", "a"}
)
#: Inline elements: a run of them and of loose text forms one paragraph.
_INLINE = frozenset(
    {"a", "b", "i", "em", "strong", "span", "br", "u", "font", "small", "sub", "sup", "abbr",
     "cite", "code", "mark", "q", "s", "time", "var", "del", "ins", "kbd", "label", "tt"}
)  # fmt: skip
_TEXT_BLOCKS = ("div", "td", "section", "article", "blockquote")
#: Share of the page's scored text a container marked as the story body must hold.
MARKED_SHARE = 0.3
#: Share of the best container's own paragraph text a sibling needs to join it.
SIBLING_SHARE = 0.2

_BODY_MARK = re.compile(
    r"(?:^|[^a-z])(?:article|story|entry|post|body|news|blog|text)[-_]?"
    r"(?:body|content|text|copy|entry|inner)(?:$|[^a-z])"
    r"|(?:^|[^a-z])content[-_]?(?:body|text)(?:$|[^a-z])|articlebody|field-name-body"
    r"|(?:^|\s)(?:entry|article|story|body|prose|rich-text|wysiwyg)(?:$|\s)"
)
_MARK_CACHE: dict[str, bool] = {}


def _link_length(element: etree._Element) -> int:
    return sum(len(_string(a)) for a in element.iter("a"))


def _own_text_length(element: etree._Element) -> int:
    """Text of ``element`` outside its block children (its own text, inline children's
    text and tails)."""
    length = len((element.text or "").strip())
    for child in element:
        tail = child.tail
        if tail:
            length += len(tail.strip())
        if child.tag in _INLINE:
            length += len(_string(child).strip())
    return length


class Scores:
    """Block text scores of a page (see the module docstring)."""

    def __init__(self, root: etree._Element) -> None:
        self.total: dict[etree._Element, float] = {}
        self.direct: dict[etree._Element, float] = {}
        total, direct = self.total, self.direct
        for block in root.iter("p", "pre", "tr", *_TEXT_BLOCKS):
            tag = block.tag
            if tag == "tr":
                if self._has_block(block):
                    continue
                length = len(_string(block).strip())
            elif tag in _TEXT_BLOCKS:
                length = _own_text_length(block)
                if length < 100:
                    continue
            else:
                length = len(_string(block).strip())
            if length < 20:
                continue
            links = _link_length(block)
            if links > 0.5 * length:
                continue
            value = float(length - links)
            total[block] = total.get(block, 0.0) + value
            parent_found = False
            for ancestor in block.iterancestors():
                total[ancestor] = total.get(ancestor, 0.0) + value
                if not parent_found and ancestor.tag not in _TRANSPARENT:
                    direct[ancestor] = direct.get(ancestor, 0.0) + value
                    parent_found = True

    @staticmethod
    def _has_block(element: etree._Element) -> bool:
        for _ in element.iterdescendants(*BLOCK_TAGS, "div", "section", "article"):
            return True
        return False


def clear_caches() -> None:
    """Forget the cached story-body marks."""
    _MARK_CACHE.clear()


def _is_marked(element: etree._Element) -> bool:
    if element.get("itemprop") == "articleBody":
        return True
    key = f"{element.get('class') or ''} {element.get('id') or ''}".lower()
    found = _MARK_CACHE.get(key)
    if found is None:
        if len(_MARK_CACHE) > 20000:
            _MARK_CACHE.clear()
        found = _MARK_CACHE[key] = _BODY_MARK.search(key) is not None
    return found


def _is_link_list(element: etree._Element) -> bool:
    text = len(_string(element).strip())
    if not text:
        return True
    return _link_length(element) >= 0.8 * text


def container(root: etree._Element) -> list[etree._Element]:
    """The element(s) holding the story, in document order; empty when there is no text."""
    scores = Scores(root)
    total, direct = scores.total, scores.direct
    body = root.find("body")
    top = total.get(body if body is not None else root, 0.0)
    if not top or not direct:
        return []
    marked = [
        element
        for element in total
        if total[element] >= MARKED_SHARE * top
        and element.tag not in {"html", "body"}
        and _is_marked(element)
    ]
    if marked:
        # The innermost marked element that still holds nearly all the marked text.
        most = max(total[element] for element in marked)
        near = [element for element in marked if total[element] >= 0.9 * most]
        return [max(near, key=lambda element: sum(1 for _ in element.iterancestors()))]
    best = max(direct, key=direct.__getitem__)
    parent = best.getparent()
    if parent is None or best.tag == "body":
        return [best]
    base = direct[best]
    return [
        sibling
        for sibling in parent
        if sibling is best
        or (direct.get(sibling, 0.0) >= SIBLING_SHARE * base and not _is_link_list(sibling))
    ]


def _is_linkish(element: etree._Element) -> bool:
    """A block that is mostly a link (a teaser line or a "read more"), or mostly links
    and short (a share bar, a button row)."""
    text = len(_string(element).strip())
    if not text:
        return not element.tag == "br"
    links = _link_length(element)
    return links >= 0.8 * text or (text < 50 and links >= 0.5 * text)


def blocks(boxes: list[etree._Element]) -> list[etree._Element]:
    """The blocks of ``boxes`` in document order; runs of loose text and inline elements
    become new paragraphs."""
    found: list[etree._Element] = []
    # Elements with blocks inside: walked into rather than kept whole.
    holders: set[etree._Element] = set()
    for box in boxes:
        for inner in box.iterdescendants(*BLOCK_TAGS, "div", "section", "article", "li"):
            for ancestor in inner.iterancestors():
                if ancestor in holders:
                    break
                holders.add(ancestor)
                if ancestor is box:
                    break

    def keep(element: etree._Element) -> None:
        if element.tag in _LISTS:
            if not _is_link_list(element):
                found.append(element)
        elif not _is_linkish(element):
            found.append(element)

    def flush(run: list[etree._Element | str]) -> None:
        if not run:
            return
        paragraph = etree.Element("p")
        for part in run:
            if isinstance(part, str):
                if len(paragraph):
                    last = paragraph[-1]
                    last.tail = (last.tail or "") + part
                else:
                    paragraph.text = (paragraph.text or "") + part
            else:
                copied = deepcopy(part)
                copied.tail = None
                paragraph.append(copied)
        run.clear()
        if _string(paragraph).strip():
            keep(paragraph)

    def walk(element: etree._Element) -> None:
        run: list[etree._Element | str] = []
        if element.text and element.text.strip():
            run.append(element.text)
        for child in element:
            tag = child.tag
            if not isinstance(tag, str):
                pass
            elif tag in BLOCK_TAGS:
                flush(run)
                keep(child)
            elif child in holders:
                flush(run)
                walk(child)
            elif tag in _INLINE:
                run.append(child)
            else:
                flush(run)
                child.tag = "p"
                keep(child)
            if child.tail and (run or child.tail.strip()):
                run.append(child.tail)
        flush(run)

    for box in boxes:
        if box.tag in BLOCK_TAGS and box not in holders:
            keep(box)
        else:
            walk(box)
    for element in found:
        element.tail = None  # read as loose text already
    return found
