"""The one HTML allow-list sanitizer (nh3), and plain text from clean HTML.

Ingest stores only what :func:`clean_html` returns; the snippet renderer runs it again
before output, so a body that reached the database some other way is still safe.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

import lxml.html
import nh3

#: Elements a story body may contain. Everything else is unwrapped (its text kept) or,
#: for the elements in :data:`DROP_WITH_CONTENT`, removed with everything inside.
ALLOWED_TAGS: frozenset[str] = frozenset(
    {"p", "h2", "h3", "h4", "ul", "ol", "li", "blockquote", "a", "strong", "em", "b", "i", "br"}
)
#: ``"*": set()`` replaces nh3's default generic attributes (``lang``, ``title``): a body
#: keeps no attribute but a link's target.
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"a": {"href"}, "*": set()}
URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
#: Removed together with their content: code, styles, embedded documents and media,
#: forms, and figure captions (images are never part of a snippet).
DROP_WITH_CONTENT: frozenset[str] = frozenset(
    {
        "script",
        "style",
        "template",
        "noscript",
        "iframe",
        "object",
        "embed",
        "svg",
        "math",
        "form",
        "select",
        "textarea",
        "button",
        "figure",
        "figcaption",
        "picture",
        "video",
        "audio",
        "canvas",
        "title",
        "head",
        "nav",
        "aside",
    }
)

_EMPTY_BLOCK = re.compile(r"<(p|h2|h3|h4|li|blockquote|strong|em|b|i)>(\s|&nbsp;|<br>)*</\1>")
_H1 = re.compile(r"<(/?)h1\b", re.I)
_H56 = re.compile(r"<(/?)h[56]\b", re.I)
_BLANK_RUN = re.compile(r"\n{3,}")


def _absolute_href(base_url: str) -> Callable[[str, str, str], str | None]:
    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        if tag == "a" and attribute == "href":
            value = value.strip()
            if not value or value.startswith("#"):
                return None
            absolute = urljoin(base_url, value) if base_url else value
            scheme = urlsplit(absolute).scheme.lower()
            if scheme not in URL_SCHEMES:
                return None
            return absolute
        return value

    return attribute_filter


def clean_html(html: str, base_url: str = "") -> str:
    """Sanitize ``html`` to the story allow-list; make links absolute against ``base_url``.

    Links with any scheme but http, https or mailto lose their ``href``; fragments-only
    links lose it too (they point into the original page). Empty blocks are dropped.
    """
    # Headings outside the allow-list keep their level of emphasis: h1 -> h2, h5/h6 -> h4.
    html = _H1.sub(r"<\1h2", html)
    html = _H56.sub(r"<\1h4", html)
    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_absolute_href(base_url),
        url_schemes=set(URL_SCHEMES),
        link_rel=None,
        strip_comments=True,
    )
    previous = None
    while previous != cleaned:
        previous = cleaned
        cleaned = _EMPTY_BLOCK.sub("", cleaned)
    # An <a> left without href carries no link: unwrap it.
    cleaned = re.sub(r"<a>(.*?)</a>", r"\1", cleaned, flags=re.S)
    return cleaned.strip()


_BLOCKS = {"p", "h2", "h3", "h4", "blockquote", "ul", "ol"}


def to_text(clean: str, *, link_targets: bool = False) -> str:
    """Plain text of clean story HTML: blocks separated by blank lines, list items
    prefixed with "- " (or "1. " in ordered lists).

    With ``link_targets`` each link's URL follows its text in brackets (the snippet's
    plain-text variant, so a republisher keeps the links); without, the text alone (what
    is stored as a story's ``body_text``).
    """
    if not clean.strip():
        return ""
    root = lxml.html.fragment_fromstring(clean, create_parent="div")
    blocks: list[str] = []

    def inline(element: lxml.html.HtmlElement) -> str:
        parts: list[str] = [element.text or ""]
        for child in element:
            if child.tag == "br":
                parts.append("\n")
            elif child.tag == "a":
                label = inline(child).strip()
                href = child.get("href", "")
                if (
                    link_targets
                    and href
                    and label
                    and href != label
                    and not href.startswith("mailto:")
                ):
                    parts.append(f"{label} [{href}]")
                else:
                    parts.append(label or href)
            elif child.tag in _BLOCKS or child.tag == "li":
                pass
            else:
                parts.append(inline(child))
            parts.append(child.tail or "")
        return re.sub(r"[ \t\r\f\v]+", " ", "".join(parts))

    def walk(element: lxml.html.HtmlElement, quote: str = "") -> None:
        loose = (element.text or "").strip()
        if loose and element.tag == "div":
            blocks.append(quote + loose)
        for child in element:
            tag = child.tag
            if tag in {"p", "h2", "h3", "h4"}:
                text = inline(child).strip()
                if text:
                    blocks.append(quote + text.replace("\n", "\n" + quote))
            elif tag in {"ul", "ol"}:
                items = []
                for number, li in enumerate(child.findall("li"), start=1):
                    marker = f"{number}. " if tag == "ol" else "- "
                    items.append(quote + marker + inline(li).strip())
                if items:
                    blocks.append("\n".join(items))
            elif tag == "blockquote":
                if any(grandchild.tag in _BLOCKS for grandchild in child):
                    walk(child, quote + "> ")
                else:
                    text = inline(child).strip()
                    if text:
                        blocks.append(quote + "> " + text)
            else:
                text = inline(child).strip() if isinstance(tag, str) else ""
                if text:
                    blocks.append(quote + text)
            if element.tag == "div" and (child.tail or "").strip():
                blocks.append(quote + (child.tail or "").strip())

    walk(root)
    return _BLANK_RUN.sub("\n\n", "\n\n".join(blocks)).strip()
