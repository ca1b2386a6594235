"""Story metadata from a parsed page: JSON-LD first, then OpenGraph/meta, then markup."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lxml import etree

from republish.ingest._bylines import split_byline, unique
from republish.ingest._dates import parse_date
from republish.ingest._text import text_of as _string

_ARTICLE_TYPES = {
    "article",
    "newsarticle",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "reviewnewsarticle",
    "backgroundnewsarticle",
    "blogposting",
    "socialmediaposting",
    "liveblogposting",
    "report",
    "scholarlyarticle",
}
_TITLE_SUFFIX = re.compile(r"\s+[|\u2013\u2014\-:\u00b7]\s+[^|\u2013\u2014\-:\u00b7]{2,60}$")
_BYLINE_CLASSES = frozenset({"byline", "author-name", "byline__author"})


def _with_markers(root: etree._Element) -> list[etree._Element]:
    """Elements with a class, rel or itemprop: one walk, shared by the markup readers."""
    found = []
    for element in root.iter():
        attrib = element.attrib
        if attrib and ("class" in attrib or "rel" in attrib or "itemprop" in attrib):
            found.append(element)
    return found


def _byline_elements(marked: list[etree._Element]) -> list[etree._Element]:
    return [
        element
        for element in marked
        if element.get("rel") == "author"
        or element.get("itemprop") == "author"
        or (
            # A substring test first: most class strings hold neither word.
            ("byline" in (classes := element.get("class") or "") or "author-name" in classes)
            and _BYLINE_CLASSES & set(classes.split())
        )
    ]


@dataclass
class Meta:
    """Metadata found on a page (strings empty and lists empty when absent)."""

    headline: str = ""
    dek: str = ""
    bylines: tuple[str, ...] = ()
    published_at: datetime | None = None
    updated_at: datetime | None = None
    canonical_url: str = ""
    section: str = ""
    tags: tuple[str, ...] = ()
    site_name: str = ""
    credit_text: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _text(value: object) -> str:
    if isinstance(value, str):
        return " ".join(html.unescape(value).split())
    if isinstance(value, list) and value:
        return _text(value[0])
    if isinstance(value, dict):
        return _text(value.get("name") or value.get("@value") or "")
    return ""


def _types(item: dict[str, Any]) -> set[str]:
    raw = item.get("@type", [])
    values = raw if isinstance(raw, list) else [raw]
    return {str(value).lower() for value in values}


def _json_ld_items(root: etree._Element) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for script in root.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            data = json.loads(script.text or "", strict=False)
        except ValueError:
            continue
        stack = [data]
        while stack:
            node = stack.pop(0)
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                items.append(node)
                if isinstance(node.get("@graph"), list):
                    stack.extend(node["@graph"])
    return items


def _authors(value: object, by_id: dict[str, dict[str, Any]]) -> list[str]:
    values = value if isinstance(value, list) else [value]
    names: list[str] = []
    for author in values:
        if isinstance(author, dict):
            if "name" not in author and isinstance(author.get("@id"), str):
                author = by_id.get(author["@id"], author)
            name = _text(author.get("name"))
            if name:
                names.extend(split_byline(name) or [name])
        elif isinstance(author, str):
            names.extend(split_byline(author))
    return names


def _keywords(value: object) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [_text(part) for part in value if _text(part)]
    return []


def _from_json_ld(root: etree._Element, meta: Meta) -> None:
    items = _json_ld_items(root)
    by_id = {item["@id"]: item for item in items if isinstance(item.get("@id"), str)}
    article = next((item for item in items if _types(item) & _ARTICLE_TYPES), None)
    if article is None:
        return
    meta.headline = _text(article.get("headline") or article.get("name"))
    meta.dek = _text(article.get("description"))
    meta.bylines = unique(_authors(article.get("author"), by_id))
    meta.published_at = parse_date(article.get("datePublished"))
    meta.updated_at = parse_date(article.get("dateModified"))
    meta.section = _text(article.get("articleSection"))
    meta.tags = tuple(_keywords(article.get("keywords")))
    url = article.get("url") or article.get("mainEntityOfPage")
    if isinstance(url, dict):
        url = url.get("@id") or url.get("url")
    meta.canonical_url = url if isinstance(url, str) and url.startswith("http") else ""
    publisher = article.get("publisher")
    if isinstance(publisher, dict) and "name" not in publisher:
        publisher = by_id.get(str(publisher.get("@id")), publisher)
    meta.site_name = _text(publisher)
    meta.credit_text = _text(article.get("creditText") or article.get("sourceOrganization"))


def _meta_tags(root: etree._Element) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for tag in root.iter("meta"):
        key = (tag.get("property") or tag.get("name") or tag.get("itemprop") or "").strip()
        content = " ".join((tag.get("content") or "").split())
        if key and content:
            found.setdefault(key.lower(), []).append(content)
    return found


def _first(tags: dict[str, list[str]], *keys: str) -> str:
    for key in keys:
        if tags.get(key):
            return tags[key][0]
    return ""


def _from_meta_tags(root: etree._Element, meta: Meta) -> None:
    tags = _meta_tags(root)
    meta.headline = meta.headline or _first(
        tags, "og:title", "twitter:title", "parsely-title", "dcterms.title", "dc.title"
    )
    meta.dek = meta.dek or _first(tags, "og:description", "description", "twitter:description")
    if not meta.bylines:
        authors = tags.get("author", []) + tags.get("article:author", [])
        authors += tags.get("parsely-author", []) + tags.get("dc.creator", [])
        names = [
            name
            for value in authors
            if not value.startswith("http")
            for name in split_byline(value)
        ]
        meta.bylines = unique(names)
    meta.published_at = meta.published_at or parse_date(
        _first(
            tags,
            "article:published_time",
            "datepublished",
            "parsely-pub-date",
            "pubdate",
            "publishdate",
            "date",
            "dc.date",
            "dcterms.date",
            "dcterms.created",
            "dcterms.issued",
        )
    )
    meta.updated_at = meta.updated_at or parse_date(
        _first(tags, "article:modified_time", "og:updated_time", "datemodified", "dcterms.modified")
    )
    meta.section = meta.section or _first(
        tags, "article:section", "parsely-section", "articlesection"
    )
    if not meta.tags:
        meta.tags = tuple(tags.get("article:tag", [])) or tuple(
            _keywords(_first(tags, "news_keywords", "keywords", "parsely-tags"))
        )
    meta.site_name = meta.site_name or _first(tags, "og:site_name", "application-name")
    canonical = ""
    for link in root.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        if "canonical" in rel and (link.get("href") or "").strip():
            canonical = (link.get("href") or "").strip()
            break
    meta.canonical_url = canonical or _first(tags, "og:url") or meta.canonical_url


# Markup that names a story's section or tags when no metadata does: microdata
# (itemprop=articleSection), rel=category/rel=tag links (the rel-tag microformat, used by
# WordPress and Ghost themes), Drupal's section field.
def _section_markup(marked: list[etree._Element]) -> list[etree._Element]:
    return [
        element
        for element in marked
        if (element.get("itemprop") == "articleSection" and element.tag != "meta")
        or "field--name-field-section" in (element.get("class") or "")
    ]


def _rel_links(root: etree._Element) -> dict[str, list[etree._Element]]:
    """Links by the ``category`` and ``tag`` values of their ``rel``."""
    found: dict[str, list[etree._Element]] = {"category": [], "tag": []}
    for link in root.iter("a"):
        rel = link.get("rel")
        if rel:
            values = rel.lower().split()
            if "category" in values:
                found["category"].append(link)
            elif "tag" in values:
                found["tag"].append(link)
    return found


def _times(root: etree._Element, marks: tuple[str, ...], itemprop: str) -> list[etree._Element]:
    """``<time datetime>`` elements whose class holds one of ``marks`` or with the
    ``itemprop``."""
    return [
        time_el
        for time_el in root.iter("time")
        if time_el.get("datetime")
        and (
            time_el.get("itemprop") == itemprop
            or any(mark in (time_el.get("class") or "") for mark in marks)
            or (itemprop == "datePublished" and time_el.get("pubdate") is not None)
        )
    ]


def _from_markup(root: etree._Element, meta: Meta) -> None:
    if not meta.headline:
        h1 = next(iter(root.iter("h1")), None)
        if h1 is not None:
            meta.headline = " ".join(_string(h1).split())
    if not meta.headline:
        title = next(iter(root.iter("title")), None)
        if title is not None:
            meta.headline = _TITLE_SUFFIX.sub("", " ".join((title.text or "").split()))
    marked = _with_markers(root) if not (meta.bylines and meta.section) else []
    if not meta.bylines:
        names: list[str] = []
        for element in _byline_elements(marked)[:6]:
            names.extend(split_byline(_string(element)))
        meta.bylines = unique(names)
    rel_links = _rel_links(root) if not (meta.section and meta.tags) else {}
    if not meta.section:
        for element in [*_section_markup(marked), *rel_links["category"]]:
            meta.section = " ".join(_string(element).split())
            if meta.section:
                break
    if not meta.tags:
        names = [" ".join(_string(link).split()) for link in rel_links["tag"]]
        meta.tags = unique([name for name in names if name])
    if meta.updated_at is None:
        for time_el in _times(root, ("updated", "modified"), "dateModified"):
            meta.updated_at = parse_date(time_el.get("datetime"))
            if meta.updated_at is not None:
                break
    if meta.published_at is None:
        for time_el in _times(root, ("published",), "datePublished"):
            meta.published_at = parse_date(time_el.get("datetime"))
            if meta.published_at is not None:
                break
    if meta.published_at is None:
        for time_el in root.iter("time"):
            found = parse_date(time_el.get("datetime") or "")
            if found is not None:
                meta.published_at = found
                break


def page_meta(root: etree._Element) -> Meta:
    """Headline, dek, bylines, dates, canonical URL, section and tags of a page."""
    meta = Meta()
    _from_json_ld(root, meta)
    _from_meta_tags(root, meta)
    _from_markup(root, meta)
    if meta.published_at and meta.updated_at and meta.updated_at < meta.published_at:
        meta.updated_at = None
    return meta
