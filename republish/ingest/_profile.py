"""Per-publisher site profiles: CSS selectors that override automatic extraction."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from cssselect import SelectorError
from lxml import etree
from lxml.cssselect import CSSSelector

from republish.ingest._bylines import split_byline, unique
from republish.ingest._dates import parse_date
from republish.ingest._text import remove_keeping_tail
from republish.ingest._text import text_of as _string
from republish.models import SiteProfile


class ProfileError(ValueError):
    """A site profile selector that is not valid CSS."""


@lru_cache(maxsize=512)
def compile_selector(selector: str) -> CSSSelector:
    """The compiled selector (cached); :class:`ProfileError` when it is not valid CSS."""
    try:
        return CSSSelector(selector, translator="html")
    except SelectorError as exc:
        raise ProfileError(f"invalid CSS selector {selector!r}: {exc}") from exc


def check_profile(profile: SiteProfile) -> None:
    """Raise :class:`ProfileError` naming the first selector that is not valid CSS."""
    for selector in (profile.body, profile.headline, profile.byline, profile.published):
        if selector.strip():
            compile_selector(selector.strip())
    for selector in profile.exclude:
        if selector.strip():
            compile_selector(selector.strip())


def select(root: etree._Element, selector: str) -> list[etree._Element]:
    """Elements matching ``selector`` in document order; none when it is empty or invalid
    (a stored profile is checked when saved; a broken one must not break ingest)."""
    selector = selector.strip()
    if not selector:
        return []
    try:
        return list(compile_selector(selector)(root))
    except ProfileError:
        return []


def _text(element: etree._Element) -> str:
    return " ".join(_string(element).split())


def remove_excluded(root: etree._Element, profile: SiteProfile) -> None:
    """Remove the profile's excluded elements from ``root`` (their tails stay)."""
    for selector in profile.exclude:
        for element in select(root, selector):
            remove_keeping_tail(element)


def headline(root: etree._Element, profile: SiteProfile) -> str:
    """The text of the first headline match, or empty."""
    found = select(root, profile.headline)
    return _text(found[0]) if found else ""


def bylines(root: etree._Element, profile: SiteProfile) -> tuple[str, ...]:
    """Author names in the byline matches, or none."""
    names: list[str] = []
    for element in select(root, profile.byline):
        text = _text(element)
        names.extend(split_byline(text) or ([text] if text else []))
    return unique(names)


def published(root: etree._Element, profile: SiteProfile) -> datetime | None:
    """The date of the first match that holds one (``datetime``/``content`` attribute or
    text)."""
    for element in select(root, profile.published):
        for value in (element.get("datetime"), element.get("content"), _text(element)):
            found = parse_date(value)
            if found is not None:
                return found
    return None


def body_elements(root: etree._Element, profile: SiteProfile) -> list[etree._Element]:
    """The body matches, outermost only (a match inside another is already in it)."""
    found = select(root, profile.body)
    chosen = set(found)
    return [
        element
        for element in found
        if not any(ancestor in chosen for ancestor in element.iterancestors())
    ]
