"""Author names from bylines: "By A and B", "A, B & C", JSON-LD author objects."""

from __future__ import annotations

import re

_BY = re.compile(r"^\s*(?:written\s+)?by[:\s]+", re.I)
_SPLIT = re.compile(r"\s*(?:,|;|\band\b|&|\s\|\s)\s*", re.I)
# Job titles and other words that follow a name in a byline but are not a person.
_ROLE = re.compile(
    r"\b(staff|writer|reporter|correspondent|editor|contributor|columnist|photographer"
    r"|bureau|chief|senior|special to|updated|published)\b",
    re.I,
)
_DATEISH = re.compile(r"\d{1,2}:\d{2}|\b(19|20)\d{2}\b")
# Wire credits are bylines too: kept whole, so origin detection can see them.
_WIRE_BYLINE = re.compile(
    r"^(the\s+)?(associated press|reuters|agence france-presse|afp|bloomberg|jta|"
    r"jewish telegraphic agency|upi|united press international)(\s+staff)?$",
    re.I,
)


def split_byline(text: str) -> list[str]:
    """Names in one byline string: ``"By Ana Ruiz, Tom Becker and Li Wei"`` -> three names."""
    text = " ".join(text.split())
    text = _BY.sub("", text).strip(" .,:|-\u2013\u2014")
    if not text or len(text) > 200:
        return []
    if _WIRE_BYLINE.match(text):
        return [text]
    names: list[str] = []
    for part in _SPLIT.split(text):
        part = _BY.sub("", part).strip(" .,:|-\u2013\u2014")
        if not part or _DATEISH.search(part):
            continue
        if _ROLE.search(part) and not _WIRE_BYLINE.match(part):
            continue
        if len(part.split()) > 5:
            continue
        names.append(part)
    return names


def unique(names: list[str]) -> tuple[str, ...]:
    """Names in first-seen order without case-insensitive duplicates."""
    seen: set[str] = set()
    result: list[str] = []
    for name in names:
        key = name.casefold()
        if key not in seen:
            seen.add(key)
            result.append(name)
    return tuple(result)
