"""Newsroom chrome: what surrounds a story on its page and is not part of it.

Removed from the parsed page before the main-content extractor runs: promos
(newsletter, donation, "Republish This Story"), share bars, related links, ads, skip
links, browser notices, author bio boxes, captions, embeds and media.
"""

from __future__ import annotations

import re

from lxml import etree

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
    }
)  # fmt: skip
#: Tokens that mark the story itself: an element carrying one is never dropped.
KEEP_TOKENS = frozenset({"article", "story", "content", "body", "main", "post", "entry"})
_TOKEN_SPLIT = re.compile(r"[^a-z0-9]+")
_EMBED_CLASSES = re.compile(r"twitter-tweet|instagram-media|tiktok-embed|fb-post|bluesky-embed")
#: Short texts that are chrome wherever they appear.
CHROME_TEXT = re.compile(
    r"republish this (story|article)|please read before republishing|skip to (main )?content|"
    r"a message from (our|the) [\w\s-]{0,30}(editor|publisher)|join our mission|"
    r"^listen to this (article|story)$|^(print|email|copy link)$|"
    r"(we|this site) (do not|don.t|no longer) support (internet explorer|your browser)|"
    r"internet explorer[^.]{0,80}(not supported|no longer supported|upgrade|outdated)|"
    r"browser (is|isn.t) (not )?(supported|out of date)|upgrade your browser|"
    r"sign up for (our|the) [\w\s]*newsletter|subscribe to (our|the) [\w\s]*newsletter|"
    r"donate (now|today)|make a (tax-deductible )?donation|support (our|independent) journalism|"
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


def _tokens(element: etree._Element) -> frozenset[str] | set[str]:
    attrib = element.attrib
    if not attrib:
        return _NO_TOKENS
    classes, ident = attrib.get("class"), attrib.get("id")
    role, hidden = attrib.get("role"), attrib.get("aria-hidden")
    if not (classes or ident or role or hidden):
        return _NO_TOKENS
    tokens = set(_TOKEN_SPLIT.split(f"{classes or ''} {ident or ''}".lower()))
    if role in {"complementary", "navigation", "banner", "contentinfo"}:
        tokens.add("advert" if role == "banner" else "sidebar")
    if (hidden or "").lower() == "true":
        tokens.add("hidden")
    tokens.discard("")
    return tokens


def _remove(element: etree._Element) -> None:
    parent = element.getparent()
    if parent is None:
        return
    # Keep the tail text: it belongs to the parent, not to the chrome.
    tail = element.tail
    previous = element.getprevious()
    if tail and tail.strip():
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)


#: Cheap test before the (slower) CHROME_TEXT regular expression: one of its words.
_CHROME_WORDS = re.compile(
    "republish|skip|explorer|browser|newsletter|donat|support|share|advertisement|related"
    "|read|see|more|message|join|listen|print|email|copy"
)


def _may_be_chrome_text(text: str) -> bool:
    return _CHROME_WORDS.search(text.lower()) is not None


_TEXT_CHECKED = frozenset(
    {"p", "div", "section", "span", "a", "li", "h2", "h3", "h4", "h5", "h6", "strong"}
)


def _paragraph_text_length(element: etree._Element) -> int:
    return sum(len(p.text_content() or "") for p in element.iter("p"))


def _chrome_box(element: etree._Element, limit: int) -> etree._Element:
    """The small box a telltale heading or label belongs to ("Republish This Story" and
    the text under it), or the element itself when its parent is part of the story."""
    box = element
    for _ in range(3):
        parent = box.getparent()
        if parent is None or parent.tag not in {"div", "section", "aside", "footer"}:
            break
        if _tokens(parent) & KEEP_TOKENS:
            break
        if _paragraph_text_length(parent) >= min(limit, 1500) or len(parent) > 8:
            break
        box = parent
    return box


def strip_chrome(root: etree._Element) -> None:
    """Remove chrome from ``root`` in place (see the module docstring)."""
    # Paragraph text, not all text: inline scripts and styles would dwarf the story.
    page_p_length = _paragraph_text_length(root)
    limit = max(400, int(0.4 * page_p_length))
    doomed: list[etree._Element] = []
    for element in root.iter():
        tag = element.tag
        if not isinstance(tag, str):
            doomed.append(element)  # comments, processing instructions
            continue
        if tag in DROP_TAGS:
            doomed.append(element)
            continue
        if tag in {"html", "body", "article", "main"}:
            continue
        tokens = _tokens(element)
        if tag == "blockquote" and _EMBED_CLASSES.search(element.get("class") or ""):
            doomed.append(element)
        elif (
            (tokens & CHROME_TOKENS and not tokens & KEEP_TOKENS)
            or tag in {"header", "footer"}
            or (tag in FURNITURE_TAGS and not tokens & KEEP_TOKENS)
        ):
            # A chrome class on a container holding much of the story is a false alarm.
            if _paragraph_text_length(element) < limit:
                doomed.append(element)
        elif tag in _TEXT_CHECKED and len(element) <= 4:
            # Only small elements: a telltale phrase inside a long container says nothing,
            # and reading every container's text would cost quadratic time.
            text = element.text_content() or ""
            if len(text) > 400:
                continue
            text = " ".join(text.split())
            if not text:
                continue
            if (
                len(text) < 60
                and (tag in _HEADINGS or not len(element))
                and (_RELATED_HEADING.match(text))
            ):
                # A teaser heading: its box, and the list of links that follows it.
                box = _chrome_box(element, limit)
                doomed.append(box)
                following = box.getnext()
                if following is not None and following.tag in {"ul", "ol", "div"}:
                    if _paragraph_text_length(following) < limit:
                        doomed.append(following)
            elif len(text) < 200 and _may_be_chrome_text(text) and CHROME_TEXT.search(text):
                doomed.append(_chrome_box(element, limit))
    for element in doomed:
        _remove(element)
