"""Text of a parsed element, the fast way.

``etree.tostring(method="text")`` is about twice as fast as an XPath ``string()`` and six
times as fast as joining ``itertext()`` (measured on the aeb-dev pages).
"""

from __future__ import annotations

from lxml import etree


def text_of(element: etree._Element) -> str:
    """All text inside ``element`` (not its tail)."""
    return str(etree.tostring(element, method="text", encoding="unicode", with_tail=False))
