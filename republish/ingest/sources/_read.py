"""What every source reader shares: fetching through the guard, accepting XML, dates, links."""

from __future__ import annotations

import html
import io
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
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
from republish.ingest.sources import Listing, SourceError
from republish.models import Extracted
from republish.urls import InvalidURL, check_http_url

#: A title longer than this is no headline (the page is fetched instead); a category or
#: tag longer than this is dropped.
MAX_HEADLINE = 1000
MAX_TERM = 200
#: Deepest element nesting accepted (news markup stays far below; deeper is an attack on
#: memory: every open element is kept until it closes).
MAX_XML_DEPTH = 256
#: Most elements one child of the root (a sitemap's <url>) may hold when streamed.
MAX_ITEM_ELEMENTS = 10_000
#: Most elements in a document checked whole (a feed: a thousand entries of ten or
#: twenty elements each are far below; feedparser spends about 0.1 ms on each element).
MAX_ELEMENTS = 100_000
_HTML_TAG = re.compile(rb"<(!doctype\s+html|html)\b", re.I)
_TAG = re.compile(r"<[^>]*>")


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """``If-None-Match`` / ``If-Modified-Since`` for the validators of the last read."""
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def validators(result: net.FetchResult, etag: str | None, last_modified: str | None) -> Listing:
    """A listing of no entries carrying the answer's validators; for a 304 answer it is
    ``not_modified`` and the validators sent still hold unless the answer updates them."""
    new_etag = result.headers.get("etag")
    new_modified = result.headers.get("last-modified")
    if result.status == 304:
        return Listing(
            etag=new_etag or etag, last_modified=new_modified or last_modified, not_modified=True
        )
    return Listing(etag=new_etag, last_modified=new_modified)


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


def _check_start(content: bytes, where: str, what: str) -> None:
    if not content.strip():
        raise SourceError(f"not {what}: {where} sent an empty body")
    if _is_html(content[:4096]):
        raise SourceError(f"not {what}: {where} is an HTML page")


class _TooDeep(Exception):
    pass


class _TooBig(Exception):
    pass


@contextmanager
def _refusals(where: str, what: str) -> Iterator[None]:
    """What defusedxml and expat refuse, as one-line :class:`SourceError` reasons."""
    try:
        yield
    except _TooDeep:
        raise SourceError(f"refused {where}: elements nested over {MAX_XML_DEPTH} deep") from None
    except _TooBig:
        raise SourceError(
            f"refused {where}: one item holds over {MAX_ITEM_ELEMENTS} elements"
        ) from None
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


def xml_items(content: bytes, where: str, what: str) -> tuple[str, Iterator[Element]]:
    """Stream a document through defusedxml, which refuses DTDs, entity declarations and
    external references (and anything not well-formed, or nested over
    :data:`MAX_XML_DEPTH`): its root element's local name, and an iterator over the
    root's children, each complete when it comes.

    Each child is dropped once the next one is read, so a large sitemap costs little
    memory. Errors are :class:`SourceError`, raised from this call when they come before
    the root element (a DTD, an empty or HTML body), or from the iterator when later.
    """
    _check_start(content, where, what)
    events = _events(content, where, what)
    first = next(events, None)
    if first is None:  # pragma: no cover - iterparse raises on a document without a root
        raise SourceError(f"not {what}: {where} has no root element")
    return local_name(first), events


def _events(content: bytes, where: str, what: str) -> Iterator[Element]:
    """The root element (at its start), then each of its children (at their end)."""
    depth = 0
    in_item = 0  # elements in the child being read (all kept until it ends)
    root: Element | None = None
    with _refusals(where, what):
        for event, element in defusedxml.ElementTree.iterparse(
            io.BytesIO(content),
            events=("start", "end"),
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        ):
            if event == "start":
                depth += 1
                if depth > MAX_XML_DEPTH:
                    raise _TooDeep
                if root is None:
                    root = element
                    yield element
                else:
                    in_item += 1
                    if in_item > MAX_ITEM_ELEMENTS:
                        raise _TooBig
            else:
                depth -= 1
                if depth == 1 and root is not None:
                    yield element
                    root.clear()  # drop the children read so far
                    in_item = 0


class _TooMany(Exception):
    pass


class _RootOnly:
    """A parser target that keeps nothing but the root's tag (and checks the depth and
    the number of elements)."""

    def __init__(self, max_elements: int) -> None:
        self.root = ""
        self.depth = 0
        self.left = max_elements

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.depth += 1
        self.left -= 1
        if self.depth > MAX_XML_DEPTH:
            raise _TooDeep
        if self.left < 0:
            raise _TooMany
        if not self.root:
            self.root = tag.rsplit("}", 1)[-1]

    def end(self, tag: str) -> None:
        self.depth -= 1

    def data(self, data: str) -> None:
        pass

    def close(self) -> str:
        return self.root


def accept_xml(content: bytes, where: str, what: str, *, max_elements: int = MAX_ELEMENTS) -> str:
    """The root element's local name once defusedxml accepted the whole document (the
    same checks as :func:`xml_items`, and at most ``max_elements`` elements); nothing of
    the document is kept, so memory does not grow with it."""
    _check_start(content, where, what)
    target = _RootOnly(max_elements)
    parser = defusedxml.ElementTree.DefusedXMLParser(
        target=target, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    try:
        with _refusals(where, what):
            parser.feed(content)
            parser.close()
    except _TooMany:
        raise SourceError(f"refused {where}: over {max_elements:,} elements") from None
    return target.root


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
