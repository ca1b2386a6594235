"""Newsroom chrome: what surrounds a story on its page and is not part of it.

Removed from the parsed page in two passes: :func:`strip_chrome_markup` (by tag and by
class/id/role tokens, over the whole page, before the main content is chosen) and
:func:`strip_chrome_text` (by telltale short texts, inside the chosen content): promos
(newsletter, donation, "Republish This Story"), share bars, related links, ads, skip
links, browser notices, author bio boxes, captions, embeds and media.

Both passes visit in Python only the elements that can be chrome: the markup pass the
elements with a class, id, role or hidden marker and the furniture tags, found by one
compiled XPath; decisions are cached per distinct marker.
"""

from __future__ import annotations

import re

from lxml import etree

from republish.ingest._text import remove_keeping_tail
from republish.ingest._text import text_of as _string

#: Elements that never belong in a story body, removed with their content.
DROP_TAGS = frozenset(
    {
        "script", "style", "noscript", "template", "iframe", "embed", "object", "svg",
        "button", "input", "select", "textarea", "figure", "figcaption", "picture",
        "video", "audio", "canvas", "img", "map",
    }
)  # fmt: skip
#: Page furniture, removed unless it holds much of the page's paragraph text (some
#: sites wrap the whole page in a <form> or the story in a <header>).
FURNITURE_TAGS = frozenset({"form", "nav", "aside", "dialog", "header", "footer"})
#: class/id tokens that mark chrome (matched whole, after splitting on - and _).
CHROME_TOKENS = frozenset(
    {
        "newsletter", "newsletters", "donate", "donation", "donations", "subscribe",
        "subscription", "signup", "promo", "promotion", "related", "recirc", "recirculation",
        "share", "sharing", "sharebar", "social", "republish", "republication", "skip",
        "advert", "advertisement", "ad", "ads", "adslot", "adunit", "dfp", "sponsor",
        "sponsored", "bio", "caption", "credits", "comments", "comment", "cookie", "cookies",
        "paywall", "outdated", "unsupported", "popup", "modal", "trending", "popular",
        "breadcrumb", "breadcrumbs", "toolbar", "masthead", "sidebar", "widget", "tweet",
        "embed", "gallery", "slideshow", "video", "photo", "disclaimer", "banner",
        "screen", "sronly", "visually", "hidden", "print", "tags", "topics", "dek", "deck",
        "standfirst", "subtitle", "kicker", "byline", "bylines", "meta", "timestamp",
        "consent", "gdpr", "nextprev", "prev", "previous", "pagination", "pager",
        "shortlink", "navigation", "menu", "newsletter-signup",
    }
)  # fmt: skip
#: Chrome tokens that win over a story token in the same class ("content-share").
STRONG_CHROME_TOKENS = frozenset(
    {"share", "sharing", "sharebar", "social", "related", "newsletter", "donate", "donation",
     "republish", "promo", "recirc", "comments", "advert", "advertisement", "sidebar",
     "paywall", "popup", "modal", "trending", "popular"}
)  # fmt: skip
#: Tokens that mark the story itself: an element carrying one is never dropped.
KEEP_TOKENS = frozenset({"article", "story", "content", "body", "main", "post", "entry"})
_TOKEN_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"([a-z])([A-Z])")
_EMBED_CLASSES = re.compile(r"twitter-tweet|instagram-media|tiktok-embed|fb-post|bluesky-embed")
#: Short texts that are chrome wherever they appear.
CHROME_TEXT = re.compile(
    r"republish this (story|article)|please read before republishing|skip to (main )?content|"
    r"a message from (our|the) [\w\s-]{0,30}(editor|publisher)|join our mission|"
    r"^listen to this (article|story)$|^(print|email|copy link)$|"
    r"(we|this site) (do not|don.t|no longer) support (internet explorer|your browser)|"
    r"internet explorer[^.]{0,80}(not supported|no longer supported|upgrade|outdated)|"
    r"browser (is|isn.t) (not )?(supported|out of date)|upgrade your browser|"
    r"sign up for [\w\s.'\u2019-]{0,40}newsletter|subscribe to [\w\s.'\u2019-]{0,40}newsletter|"
    r"^have a (news )?tip\?|"
    r"donate (now|today)|make a (tax-deductible )?donation|support (our|independent) journalism|"
    r"leave a comment|join the (conversation|discussion)|comments are (open|closed)|"
    r"share (this|on) (story|article|facebook|twitter|x\b)|^advertisement$|^related( stories| "
    r"articles| coverage)?:?$|^(read|see) (more|also):?$|^more (stories|from)",
    re.I,
)
# Whole-text matches only: "Latest developments" may be a subheading of the story itself.
_RELATED_HEADING = re.compile(
    r"^(?:(?:our |the )?(?:related|latest|recommended|trending|popular|top|more|other)"
    r"(?: now)?(?: stories| articles| news| headlines| coverage| content| links| reads| videos)?"
    r"|more (?:from|on|about) [\w\s'\u2019&-]{1,40}|read (?:more|next|this next)"
    r"|you (?:may|might) also (?:like|enjoy)|most (?:read|popular|shared|viewed)"
    r"(?: stories| articles)?|recommended for you|editors.? picks)\s*:?$",
    re.I,
)
_HEADINGS = frozenset({"h2", "h3", "h4", "h5", "h6"})


_NO_TOKENS: frozenset[str] = frozenset()
_ROLE_TOKENS = {
    "complementary": "sidebar",
    "navigation": "sidebar",
    "banner": "advert",
    "contentinfo": "sidebar",
    "dialog": "modal",
    "alertdialog": "modal",
}


def _tokens(element: etree._Element) -> frozenset[str]:
    attrib = element.attrib
    if not attrib:
        return _NO_TOKENS
    classes, ident = attrib.get("class"), attrib.get("id")
    role, hidden = attrib.get("role"), attrib.get("aria-hidden")
    if not (classes or ident or role or hidden or "hidden" in attrib):
        return _NO_TOKENS
    key = (classes, ident, role, hidden, "hidden" in attrib)
    found = _TOKEN_CACHE.get(key)
    if found is None:
        # camelCase names are split too: "PromoSmall-content" -> promo, small, content.
        marker = _CAMEL.sub(r"\1 \2", f"{classes or ''} {ident or ''}")
        tokens = set(_TOKEN_SPLIT.split(marker.lower()))
        if role in _ROLE_TOKENS:
            tokens.add(_ROLE_TOKENS[role])
        if (hidden or "").lower() == "true" or "hidden" in attrib:
            tokens.add("hidden")
        tokens.discard("")
        if len(_TOKEN_CACHE) > 20000:
            _TOKEN_CACHE.clear()
        found = _TOKEN_CACHE[key] = frozenset(tokens)
    return found


_TOKEN_CACHE: dict[tuple[str | None, str | None, str | None, str | None, bool], frozenset[str]] = {}


#: Cheap test before the (slower) CHROME_TEXT regular expression: one of its words.
_CHROME_WORDS = re.compile(
    "republish|skip|explorer|browser|newsletter|donat|support|share|advertisement|related"
    "|read|see|more|message|join|listen|print|email|copy|latest|recommend|trending|popular"
    "|top|other|you|most|editor|comment|conversation|discussion|tip"
)
_TEXT_CHECKED = frozenset(
    {"p", "div", "section", "span", "a", "li", "h2", "h3", "h4", "h5", "h6", "strong"}
)


def chrome_candidates(root: etree._Element) -> list[etree._Element]:
    """Elements with a class, id, role or hidden marker, and the furniture tags: one walk
    in Python, which is faster here than an XPath building a node set."""
    found = []
    for element in root.iter():
        attrib = element.attrib
        if attrib:
            if (
                "class" in attrib
                or "id" in attrib
                or "role" in attrib
                or "aria-hidden" in attrib
                or "hidden" in attrib
            ):
                found.append(element)
                continue
        if element.tag in FURNITURE_TAGS:
            found.append(element)
    return found


def _paragraph_text_length(element: etree._Element) -> int:
    return sum(len(_string(p)) for p in element.iter("p"))


def _chrome_box(element: etree._Element, limit: int, scope: etree._Element) -> etree._Element:
    """The small box a telltale heading or label belongs to ("Republish This Story" and
    the text under it), or the element itself when its parent is part of the story."""
    box = element
    for _ in range(3):
        parent = box.getparent()
        if (
            parent is None
            or parent is scope
            or parent.tag not in {"div", "section", "aside", "footer"}
        ):
            break
        if _tokens(parent) & KEEP_TOKENS:
            break
        if _paragraph_text_length(parent) >= min(limit, 1500) or len(parent) > 8:
            break
        box = parent
    return box


def page_limit(root: etree._Element) -> int:
    """Paragraph text a chrome-marked container may hold before it counts as the story
    (inline scripts and styles would dwarf the story, so paragraph text only)."""
    return max(400, int(0.4 * _paragraph_text_length(root)))


_MARKUP_CACHE: dict[tuple[str, str | None, str | None, str | None, str | None, bool], bool] = {}


def clear_caches() -> None:
    """Forget the cached decisions (see :func:`republish.ingest.extract.clear_caches`)."""
    _TOKEN_CACHE.clear()
    _MARKUP_CACHE.clear()


def _is_chrome_markup(element: etree._Element) -> bool:
    tag = element.tag
    get = element.get
    key = (tag, get("class"), get("id"), get("role"), get("aria-hidden"), get("hidden") is not None)
    found = _MARKUP_CACHE.get(key)
    if found is None:
        if len(_MARKUP_CACHE) > 20000:
            _MARKUP_CACHE.clear()
        found = _MARKUP_CACHE[key] = _decide_chrome_markup(element)
    return found


def _decide_chrome_markup(element: etree._Element) -> bool:
    tag = element.tag
    if tag in {"html", "body", "article", "main"}:
        return False
    tokens = _tokens(element)
    if tag == "blockquote" and _EMBED_CLASSES.search(element.get("class") or ""):
        return True
    if tokens & KEEP_TOKENS and tokens & STRONG_CHROME_TOKENS:
        # "single-content-share", "related-content": the chrome word names the box.
        return True
    if tokens & KEEP_TOKENS:
        return tag in {"header", "footer"}
    return bool(tokens & CHROME_TOKENS) or tag in FURNITURE_TAGS


def _is_section_header(element: etree._Element) -> bool:
    """A ``<header>`` inside the story that heads a part of it (a subheading, a recipe
    card's title), not the page's or the article's header (those hold the ``h1`` or a
    chrome class)."""
    if _tokens(element) & CHROME_TOKENS:
        return False
    if next(element.iter("h1"), None) is not None:
        return False
    if next(element.iter("h2", "h3", "h4", "h5", "h6"), None) is None:
        return False
    return any(
        ancestor.tag in {"article", "main", "section"} for ancestor in element.iterancestors()
    )


def drop_tags(root: etree._Element) -> None:
    """Remove the :data:`DROP_TAGS` elements with their content (tails stay)."""
    etree.strip_elements(
        root, *DROP_TAGS, etree.Comment, etree.ProcessingInstruction, with_tail=False
    )


def strip_chrome_markup(
    root: etree._Element,
    limit: int | None = None,
    candidates: list[etree._Element] | None = None,
) -> None:
    """Remove elements that are chrome by tag or by class/id/role tokens (see the module
    docstring); never a container holding ``limit`` or more paragraph text.
    ``candidates`` is :func:`chrome_candidates` of ``root`` after :func:`drop_tags`, when
    the caller has it already."""
    if candidates is None:
        drop_tags(root)
        candidates = chrome_candidates(root)
    if limit is None:
        limit = page_limit(root)
    gone: set[etree._Element] = set()  # removed elements and everything inside them
    for element in candidates:
        if not _is_chrome_markup(element) or element in gone:
            continue
        if element.tag == "header" and _is_section_header(element):
            continue
        # A chrome class on a container holding much of the story is a false alarm.
        if _paragraph_text_length(element) < limit:
            gone.update(element.iter())
            remove_keeping_tail(element)


def strip_chrome_text(scope: etree._Element, limit: int) -> None:
    """Remove small elements inside ``scope`` whose text is a telltale of chrome, with
    the small box they head (and a teaser heading's list of links)."""
    doomed: list[etree._Element] = []
    for element in scope.iter(*_TEXT_CHECKED):
        if len(element) > 4:
            # Only small elements: a telltale phrase inside a long container says nothing.
            continue
        text = _string(element)
        if len(text) > 400:
            continue
        text = " ".join(text.split())
        # Both tests below need a short text: most story paragraphs stop here.
        if len(text) >= 200 or not _CHROME_WORDS.search(text.lower()):
            continue
        tag = element.tag
        if (
            len(text) < 60
            and (tag in _HEADINGS or not len(element))
            and _RELATED_HEADING.match(text)
        ):
            # A teaser heading: its box, and the list of links that follows it.
            box = _chrome_box(element, limit, scope)
            doomed.append(box)
            following = box.getnext()
            if following is not None and following.tag in {"ul", "ol", "div"}:
                if _paragraph_text_length(following) < limit:
                    doomed.append(following)
        elif CHROME_TEXT.search(text):
            doomed.append(_chrome_box(element, limit, scope))
    for element in doomed:
        remove_keeping_tail(element)


def strip_chrome(root: etree._Element) -> None:
    """Remove chrome from the whole of ``root`` in place: both passes."""
    limit = page_limit(root)
    strip_chrome_markup(root, limit)
    strip_chrome_text(root, limit)
