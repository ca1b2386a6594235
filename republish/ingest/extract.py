"""Extract a story from an article page: metadata, clean body, plain text, origin.

Pure: no network. Metadata comes from JSON-LD (including ``@graph``), then OpenGraph and
other meta tags, then the markup (``h1``, byline elements, ``time``). The body is the
main content found by our own heuristics (:mod:`republish.ingest._content`) on a page
stripped of newsroom chrome (:mod:`republish.ingest._chrome`), made safe by
:mod:`republish.clean`.
"""

from __future__ import annotations

import re
from typing import Any

import lxml.html
from lxml import etree

from republish import clean
from republish.ingest import _chrome, _content, _profile
from republish.ingest._chrome import (
    chrome_candidates,
    drop_tags,
    page_limit,
    strip_chrome_markup,
    strip_chrome_text,
)
from republish.ingest._meta import Meta, page_meta
from republish.ingest._text import text_of as _string
from republish.ingest.origin import detect_origin
from republish.models import Extracted, SiteProfile
from republish.urls import host_of

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w-]+)""", re.I)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_BYLINE_LINE = re.compile(r"^\s*(by|written by)\s+\S", re.I)
_DATE_LINE = re.compile(
    r"^\s*((published|updated|posted)\b|(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*\.? "
    r"\d{1,2},? \d{4}|\d{4}-\d{2}-\d{2})",
    re.I,
)
_CREDIT_TOKENS = re.compile(r"credit|originally|syndicat|source|tagline|disclosure|footnote", re.I)
_MEDIA_TOKENS = re.compile(r"photo|image|img|caption|media|video|gallery|figure", re.I)
_BODY_BLOCKS = {"p", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote", "pre"}


def decode(content: str | bytes) -> str:
    """Text of a page: the declared charset, else UTF-8, else Windows-1252."""
    if isinstance(content, str):
        return content
    match = _CHARSET.search(content[:4096])
    if match:
        try:
            return content.decode(match.group(1).decode("ascii"), errors="replace")
        except LookupError:
            pass
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


# Plain lxml elements (no per-element class lookup as with lxml.html's parser);
# comments and processing instructions never reach the tree.
_PARSER = etree.HTMLParser(remove_comments=True, remove_pis=True, no_network=True)


def parse(html: str | bytes) -> etree._Element | None:
    """The page as an lxml tree, or None when there is no markup at all."""
    text = _XML_DECL.sub("", decode(html).lstrip("\ufeff")).strip()
    if not text:
        return None
    try:
        root = etree.fromstring(text, parser=_PARSER)
    except (etree.ParserError, ValueError):
        return None
    return root if root is not None and isinstance(root.tag, str) else None


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


_CREDIT_TAGS = frozenset({"p", "div", "span", "small", "em", "footer", "section"})
_CREDIT_MARKERS: dict[str, bool] = {}


def _is_credit_marker(marker: str) -> bool:
    found = _CREDIT_MARKERS.get(marker)
    if found is None:
        if len(_CREDIT_MARKERS) > 20000:
            _CREDIT_MARKERS.clear()
        found = _CREDIT_MARKERS[marker] = bool(
            marker.strip() and _CREDIT_TOKENS.search(marker) and not _MEDIA_TOKENS.search(marker)
        )
    return found


def _credit_text(candidates: list[etree._Element]) -> str:
    """Text of elements that look like credit or syndication notes (before chrome goes;
    ``candidates``: the elements with a class or id, see :func:`chrome_candidates`)."""
    parts: list[str] = []
    for element in candidates:
        if element.tag not in _CREDIT_TAGS:
            continue
        attrib = element.attrib
        # A photo credit ("AP Photo", "(c) The Associated Press") says who took the
        # picture, not who wrote the story.
        if not _is_credit_marker(f"{attrib.get('class') or ''} {attrib.get('id') or ''}") or any(
            ancestor.tag in {"figure", "figcaption", "picture"}
            or _MEDIA_TOKENS.search(ancestor.get("class") or "")
            for ancestor in element.iterancestors()
        ):
            continue
        text = " ".join(_string(element).split())
        if text and len(text) < 400:
            parts.append(text)
    return "\n".join(parts[:10])


def _text_length(element: etree._Element) -> int:
    return len("".join(element.itertext()).strip())


def _same_site(href: str, site: str) -> bool:
    host = host_of(href) if href.startswith(("http://", "https://")) else site
    return bool(site) and host == site


def _drop_link_debris(body: etree._Element, url: str) -> None:
    """Remove what is left of teaser lists: image links (now empty) and lists whose every
    item is just a link to another story on the same site (a list of links elsewhere, such
    as resources, is the story's own)."""
    site = host_of(url) if url else ""
    for link in list(body.iter("a")):
        if not _text_length(link):
            _drop(link)
    for listing in list(body.iter("ul", "ol")):
        items = listing.findall("li")
        if len(items) < 2:
            continue
        linked = all(
            _text_length(item)
            and sum(_text_length(a) for a in item.iter("a")) >= 0.8 * _text_length(item)
            and all(_same_site(a.get("href", ""), site) for a in item.iter("a"))
            for item in items
        )
        if linked:
            _drop(listing)


def _drop(element: etree._Element) -> None:
    parent = element.getparent()
    if parent is None:
        return
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def _strip_leading_duplicates(body: etree._Element, meta: Meta) -> None:
    """Drop the headline, dek, byline and date lines an extractor left at the top."""
    headline = _norm(meta.headline)
    # Sites often reuse the first paragraph as their description: only a heading can be
    # the dek repeated, a paragraph equal to it is the story's own opening.
    dek = _norm(meta.dek)
    names = {_norm(name) for name in meta.bylines}
    for child in list(body)[:6]:
        text = " ".join("".join(child.itertext()).split())
        key = _norm(text)
        if not key or child.tag == "h1":
            body.remove(child)
            continue
        is_byline = _BYLINE_LINE.match(text) and len(text) < 150
        is_names = bool(names) and key in names | {" ".join(sorted(names))}
        is_date = _DATE_LINE.match(text) and len(text) < 80
        is_title = bool(headline) and key == headline
        is_dek = bool(dek) and key == dek and child.tag in {"h2", "h3", "h4", "h5", "h6", "div"}
        if is_title or is_dek or is_byline or is_names or is_date:
            body.remove(child)
            continue
        break


_INLINE = frozenset({"a", "b", "i", "strong", "em", "span", "br", "u", "small", "sub", "sup"})


def _wrap_loose_text(body: etree._Element) -> etree._Element:
    """The body with text and inline elements outside any block gathered into paragraphs
    (a story body is a sequence of blocks)."""
    wrapped = etree.Element("div")
    current: etree._Element | None = None

    def paragraph() -> etree._Element:
        nonlocal current
        if current is None:
            current = etree.SubElement(wrapped, "p")
        return current

    if body.text and body.text.strip():
        paragraph().text = body.text
    for child in list(body):
        tail, child.tail = child.tail, None
        if child.tag in _INLINE:
            paragraph().append(child)
        else:
            if child.tag == "div" and not any(
                descendant.tag in _BODY_BLOCKS for descendant in child.iterdescendants()
            ):
                child.tag = "p"
            current = None
            wrapped.append(child)
        if tail and tail.strip():
            target = paragraph()
            if len(target):
                target[-1].tail = (target[-1].tail or "") + tail
            else:
                target.text = (target.text or "") + tail
    return wrapped


def _main_content(root: etree._Element, url: str, limit: int) -> etree._Element | None:
    """The story's blocks, from a page with its chrome markup removed (``limit``: see
    :func:`page_limit`)."""
    boxes = _content.container(root)
    if not boxes:
        # No paragraph long enough to score (a very short story): the first article or
        # main element, else the body, as it is.
        fallback = next(root.iter("article", "main"), None)
        if fallback is None:
            fallback = root.find("body")
        if fallback is None:
            return None
        boxes = [fallback]
    for box in boxes:
        strip_chrome_text(box, limit)
    found = _content.blocks(boxes)
    if not found:
        return None
    body = etree.Element("div")
    body.extend(found)
    _drop_link_debris(body, url)
    return body


def _body_html(
    root: etree._Element, meta: Meta, base_url: str, candidates: list[etree._Element]
) -> str:
    limit = page_limit(root)
    strip_chrome_markup(root, limit, candidates)
    body = _main_content(root, base_url, limit)
    if body is None:
        return ""
    _strip_leading_duplicates(body, meta)
    body = _wrap_loose_text(body)
    raw = "".join(etree.tostring(child, encoding="unicode") for child in body)
    return clean.clean_html(raw, base_url)


def _profile_body_html(root: etree._Element, base_url: str, profile: SiteProfile) -> str | None:
    """The body the profile's selector points at, cleaned; None when it matches nothing."""
    elements = _profile.body_elements(root, profile)
    if not elements:
        return None
    raw = "".join(
        etree.tostring(element, encoding="unicode", with_tail=False) for element in elements
    )
    return clean.clean_html(raw, base_url)


def _apply_profile(root: etree._Element, meta: Meta, profile: SiteProfile) -> None:
    """Profile selectors override what automatic extraction found, part by part."""
    meta.headline = _profile.headline(root, profile) or meta.headline
    meta.bylines = _profile.bylines(root, profile) or meta.bylines
    meta.published_at = _profile.published(root, profile) or meta.published_at


def extract(html: str | bytes, url: str = "", profile: SiteProfile | None = None) -> Extracted:
    """Everything a story page says about its story. Pure: no network.

    ``url`` is where the page was found; the canonical URL (``link rel=canonical``,
    ``og:url``) wins over it, and links in the body are made absolute against it.
    ``profile`` (the publisher's site profile) overrides the automatic result for each part
    it has a selector for (body, headline, byline, published date); its ``exclude``
    selectors remove elements before the body is found. A selector that matches nothing
    leaves that part to automatic extraction. A profile body is still cleaned.
    """
    root = parse(html)
    if root is None:
        return Extracted(canonical_url=url)
    meta = page_meta(root)
    if profile is not None and not profile.is_empty():
        _profile.remove_excluded(root, profile)
        _apply_profile(root, meta, profile)
    canonical = meta.canonical_url.strip()
    if canonical and url:
        canonical = lxml.html.urljoin(url, canonical)
    if not canonical.startswith(("http://", "https://")):
        canonical = url
    body_html = None
    if profile is not None and profile.body.strip():
        body_html = _profile_body_html(root, url or canonical, profile)
    # Scripts, media, figures and their captions go first (a photo credit is not the
    # story's origin); one walk then finds the elements with markers, read for credit
    # notes and then for chrome.
    drop_tags(root)
    candidates = chrome_candidates(root)
    credit = "\n".join(part for part in (meta.credit_text, _credit_text(candidates)) if part)
    if body_html is None:
        body_html = _body_html(root, meta, url or canonical, candidates)
    body_text = clean.to_text(body_html)
    origin = detect_origin(body_text, meta.bylines, credit_text=credit)
    return Extracted(
        headline=meta.headline,
        dek=meta.dek,
        bylines=meta.bylines,
        published_at=meta.published_at,
        updated_at=meta.updated_at,
        canonical_url=canonical,
        section=meta.section,
        tags=meta.tags,
        body_html=body_html,
        body_text=body_text,
        origin=origin,
        site_name=meta.site_name,
    )


def clear_caches() -> None:
    """Forget the decisions cached per class/id string (chrome, story-body and credit
    markers). Extraction results do not depend on them; the benchmark uses this to time
    extraction with cold caches."""
    _chrome.clear_caches()
    _content.clear_caches()
    _CREDIT_MARKERS.clear()


def extracted_to_json(extracted: Extracted) -> dict[str, Any]:
    """A JSON-ready dict of what extraction found (dates in ISO 8601, origin or None)."""
    origin = extracted.origin
    return {
        "headline": extracted.headline,
        "dek": extracted.dek,
        "bylines": list(extracted.bylines),
        "published_at": extracted.published_at.isoformat() if extracted.published_at else None,
        "updated_at": extracted.updated_at.isoformat() if extracted.updated_at else None,
        "canonical_url": extracted.canonical_url,
        "site_name": extracted.site_name,
        "section": extracted.section,
        "tags": list(extracted.tags),
        "origin": (
            {"name": origin.name, "evidence": origin.evidence, "kind": origin.kind}
            if origin
            else None
        ),
        "body_html": extracted.body_html,
        "body_text": extracted.body_text,
    }
