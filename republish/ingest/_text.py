"""Text of a parsed element, the fast way; removing an element without losing its tail.

``etree.tostring(method="text")`` is about twice as fast as an XPath ``string()`` and six
times as fast as joining ``itertext()`` (measured on the aeb-dev pages).
"""

from __future__ import annotations

from lxml import etree


def text_of(element: etree._Element) -> str:
    """All text inside ``element`` (not its tail)."""
    return str(etree.tostring(element, method="text", encoding="unicode", with_tail=False))


def remove_keeping_tail(element: etree._Element) -> None:
    """Remove ``element`` from its parent; its tail text, when not blank, stays in place."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail
    if tail and tail.strip():
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)
