"""What every source reader shares: fetching through the guard, accepting XML, dates, links."""

from __future__ import annotations

import html
import io
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from urllib.parse import urljoin
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree

from republish import net
from republish._netbody import size_text
from republish.clean import clean_html, to_text
from republish.ingest._dates import parse_date
from republish.ingest.origin import detect_origin
from republish.ingest.sources import SourceError
from republish.models import Extracted
from republish.urls import InvalidURL, check_http_url

#: A title longer than this is no headline (the page is fetched instead); a category or
#: tag longer than this is dropped.
MAX_HEADLINE = 1000
MAX_TERM = 200
_HTML_TAG = re.compile(rb"<(!doctype\s+html|html)\b", re.I)
_TAG = re.compile(r"<[^>]*>")


def fetch(
    client: net.Client,
    url: str,
    *,
    accept: Sequence[str],
    what: str,
    headers: Mapping[str, str] | None = None,
) -> net.FetchResult:
    """``client.fetch`` with every refusal turned into a one-line :class:`SourceError`."""
    try:
        return client.fetch(url, accept=accept, headers=headers)
    except net.UnsupportedContent as exc:
        raise SourceError(f"not {what}: {exc}") from None
    except net.FetchError as exc:
        raise SourceError(str(exc)) from None


def _is_html(head: bytes) -> bool:
    """Whether a document opens (after blanks and comments) with an HTML doctype or tag."""
    at = 0
    while True:
        while at < len(head) and head[at : at + 1].isspace():
            at += 1
        if not head.startswith(b"<!--", at):
            return bool(_HTML_TAG.match(head, at))
        end = head.find(b"-->", at + 4)
        if end < 0:
            return False
        at = end + 3


def xml_items(content: bytes, where: str, what: str) -> tuple[str, Iterator[Element]]:
    """Stream a document through defusedxml, which refuses DTDs, entity declarations and
    external references (and anything not well-formed): its root element's local name,
    and an iterator over the root's children, each complete when it comes.

    Nothing is held but the child in hand (each is dropped once the next one starts), so
    a large sitemap costs little memory. Errors are :class:`SourceError`, raised from
    this call when they come before the root element (a DTD, an empty or HTML body), or
    from the iterator when they come later.
    """
    if not content.strip():
        raise SourceError(f"not {what}: {where} sent an empty body")
    if _is_html(content[:4096]):
        raise SourceError(f"not {what}: {where} is an HTML page")
    events = _events(content, where, what)
    first = next(events, None)
    if first is None:  # pragma: no cover - iterparse raises on a document without a root
        raise SourceError(f"not {what}: {where} has no root element")
    return local_name(first), events


def _events(content: bytes, where: str, what: str) -> Iterator[Element]:
    """The root element (at its start), then each of its children (at their end)."""
    depth = 0
    root: Element | None = None
    try:
        for event, element in defusedxml.ElementTree.iterparse(
            io.BytesIO(content),
            events=("start", "end"),
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        ):
            if event == "start":
                depth += 1
                if root is None:
                    root = element
                    yield element
            else:
                depth -= 1
                if depth == 1 and root is not None:
                    yield element
                    root.clear()  # drop the children read so far
    except defusedxml.DTDForbidden:
        raise SourceError(f"refused {where}: it declares a DTD (<!DOCTYPE>)") from None
    except defusedxml.EntitiesForbidden:
        raise SourceError(f"refused {where}: it declares entities") from None
    except defusedxml.ExternalReferenceForbidden:
        raise SourceError(f"refused {where}: it refers to an external resource") from None
    except defusedxml.DefusedXmlException as exc:
        raise SourceError(f"refused {where}: {exc}") from None
    except ParseError as exc:
        raise SourceError(f"not {what}: {where} is not well-formed XML ({exc})") from None
    except (ValueError, RecursionError) as exc:
        raise SourceError(f"not {what}: {where} could not be read ({exc})") from None


def accept_xml(content: bytes, where: str, what: str) -> str:
    """The root element's local name once defusedxml accepted the whole document
    (see :func:`xml_items`); nothing of it is kept."""
    root, items = xml_items(content, where, what)
    for _ in items:
        pass
    return root


def local_name(element: Element) -> str:
    """An element's tag without its namespace."""
    tag = element.tag if isinstance(element.tag, str) else ""
    return tag.rsplit("}", 1)[-1]


def gunzip(content: bytes, max_bytes: int, where: str) -> bytes:
    """A gzip file inflated, refused once it would pass ``max_bytes`` (a gzip bomb)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(content, max_bytes + 1)
    except zlib.error as exc:
        raise SourceError(f"{where} is a corrupt gzip file ({exc})") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise SourceError(f"{where} inflates to more than the {size_text(max_bytes)} limit")
    if not inflater.eof:
        raise SourceError(f"{where} is a corrupt gzip file (it ends too early)")
    return out


def absolute_link(value: object, base: str) -> str | None:
    """``value`` as an absolute http(s) URL resolved against ``base``, or None."""
    if not isinstance(value, str) or not value.strip() or len(value) > 2048:
        return None
    try:
        return check_http_url(urljoin(base, value.strip()).split("#", 1)[0])
    except (InvalidURL, ValueError):
        return None


def date(value: object) -> datetime | None:
    """An aware UTC datetime from an ISO 8601 (or common textual) date string."""
    return parse_date(value)


def plain(markup: str) -> str:
    """Text of a short HTML string (a title): tags dropped, entities decoded, one line."""
    return " ".join(html.unescape(_TAG.sub(" ", markup)).split())


def story(
    *,
    url: str,
    headline: str,
    body_html: str,
    dek: str = "",
    bylines: tuple[str, ...] = (),
    published_at: datetime | None = None,
    updated_at: datetime | None = None,
    section: str = "",
    tags: tuple[str, ...] = (),
    site_name: str = "",
) -> Extracted:
    """A story a source carries whole: its body cleaned against ``url``, text and origin."""
    body = clean_html(body_html, base_url=url)
    text = to_text(body)
    return Extracted(
        headline=headline,
        dek=dek,
        bylines=bylines,
        published_at=published_at,
        updated_at=updated_at,
        canonical_url=url,
        section=section if len(section) <= MAX_TERM else "",
        tags=tuple(tag for tag in tags if len(tag) <= MAX_TERM),
        body_html=body,
        body_text=text,
        origin=detect_origin(text, bylines),
        site_name=site_name,
    )
