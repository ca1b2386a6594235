"""Render a story as the snippet a republisher copies: HTML, head tag and plain text.

The output depends only on the stored story revision and the publisher's settings (no
clock, no randomness), so the same revision always renders byte-identical snippets.
Every value that comes from a story or a publisher is HTML-escaped; the body goes
through :func:`republish.clean.clean_html` once more on the way out.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from html import escape
from urllib.parse import quote

from republish import clean
from republish.models import Publisher, Story
from republish.policy import decide

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

#: Inline styles on the pixel: ``!important`` so that a host stylesheet hiding images
#: (``img { display: none }``, ``max-width: 0``, lazy-load fades) does not silence it.
PIXEL_STYLE = (
    "display:inline-block!important;"
    "width:1px!important;height:1px!important;"
    "max-width:1px!important;min-width:1px!important;"
    "max-height:1px!important;min-height:1px!important;"
    "border:0!important;margin:0!important;padding:0!important;"
    "opacity:1!important;position:static!important;visibility:visible!important"
)

#: Static text only: a publisher's name inside a comment could close it early.
PIXEL_COMMENT = (
    "<!-- Please keep the image below: it tells the original publisher how many "
    "people read this story. It sets no cookies and collects no personal data. -->"
)


# C0 controls but tab, newline and carriage return (and DEL): HTML parsers turn NUL into
# U+FFFD or drop it, and PostgreSQL cannot store it; none belongs in a story.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _strip_controls(text: str) -> str:
    return _CONTROLS.sub("", text)


@dataclass(frozen=True)
class Snippet:
    """What a republisher copies. Empty strings when the story is not republishable."""

    republishable: bool
    reason: str
    html: str
    head: str
    text: str


def _attr(value: str) -> str:
    return escape(value, quote=True)


def _link(url: str, label_html: str) -> str:
    return f'<a href="{_attr(url)}">{label_html}</a>'


def human_date(moment: datetime) -> str:
    """``November 24, 2026``: the same in every locale (no ``strftime`` names)."""
    return f"{_MONTHS[moment.month - 1]} {moment.day}, {moment.year}"


def join_names(names: tuple[str, ...] | list[str]) -> str:
    """``A``, ``A and B``, ``A, B and C``."""
    names = [name for name in names if name.strip()]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def byline(story: Story, publisher: Publisher) -> str:
    """``by A and B, Publisher`` (plain text); ``by Publisher`` without a byline."""
    authors = join_names(list(story.bylines))
    return f"by {authors}, {publisher.name}" if authors else f"by {publisher.name}"


def _story_date(story: Story) -> datetime | None:
    return story.published_at or story.updated_at


def pixel_url(base_url: str, story_id: str) -> str:
    """Where the pixel of ``story_id`` is served."""
    return f"{base_url.rstrip('/')}/p/{quote(story_id, safe='')}.gif"


def pixel_html(base_url: str, story_id: str) -> str:
    """The 1x1 tracking image, with styles a host stylesheet cannot easily override."""
    return (
        f'<img src="{_attr(pixel_url(base_url, story_id))}" width="1" height="1" alt="" '
        f'referrerpolicy="no-referrer-when-downgrade" style="{PIXEL_STYLE}">'
    )


def _fill(template: str, values: dict[str, str], literal: Callable[[str], str]) -> str:
    """Substitute ``{placeholders}``; literal template text goes through ``literal``."""
    parts: list[str] = []
    for text, name, _spec, _conversion in string.Formatter().parse(template):
        parts.append(literal(text))
        if name is not None:
            parts.append(values.get(name, ""))
    return "".join(parts)


def credit_html(story: Story, publisher: Publisher) -> str:
    """The credit line as HTML, from the publisher's credit template."""
    name = escape(publisher.name)
    moment = _story_date(story)
    licence_url = publisher.licence.url
    values = {
        "publisher": _link(publisher.home_url, name) if publisher.home_url else name,
        "story_link": _link(story.canonical_url, escape(story.headline)),
        "url": _link(story.canonical_url, escape(story.canonical_url)),
        "headline": escape(story.headline),
        "licence": (
            _link(licence_url, escape(publisher.licence.title))
            if licence_url
            else escape(publisher.licence.title)
        ),
        "date": escape(human_date(moment)) if moment else "",
    }
    return _fill(publisher.credit_template, values, escape)


def credit_text(story: Story, publisher: Publisher) -> str:
    """The credit line as plain text; it always carries the original story's URL."""
    moment = _story_date(story)
    licence_url = publisher.licence.url
    values = {
        "publisher": publisher.name,
        "story_link": f"\u201c{story.headline}\u201d ({story.canonical_url})",
        "url": story.canonical_url,
        "headline": story.headline,
        "licence": (
            f"{publisher.licence.title} ({licence_url})" if licence_url else publisher.licence.title
        ),
        "date": human_date(moment) if moment else "",
    }
    text = _fill(publisher.credit_template, values, lambda literal: literal)
    if story.canonical_url not in text:
        text += f" Original story: {story.canonical_url}"
    return text


def _article_html(story: Story, publisher: Publisher, heading: str) -> str:
    lines = [f"<{heading}>{escape(story.headline)}</{heading}>"]
    lines.append(f"<p>{escape(byline(story, publisher))}</p>")
    moment = _story_date(story)
    if moment is not None:
        lines.append(
            f'<p><time datetime="{_attr(moment.isoformat())}">{escape(human_date(moment))}'
            "</time></p>"
        )
    body = clean.clean_html(story.body_html, story.canonical_url)
    if body:
        lines.append(body)
    lines.append(f"<p>{credit_html(story, publisher)}</p>")
    return "\n".join(lines)


def render_preview(story: Story, publisher: Publisher) -> str:
    """The snippet's article part without the pixel (for previews that must not count).

    The headline is an ``<h2>`` so the preview can sit under a page's own ``<h1>``.
    """
    return _strip_controls(_article_html(story, publisher, "h2"))


def render_snippet(story: Story, publisher: Publisher, base_url: str) -> Snippet:
    """The snippet for ``story``, or the reason it is not offered for republication."""
    decision = decide(story, publisher)
    if not decision.republishable:
        return Snippet(False, decision.reason, "", "", "")
    html = "\n".join(
        [_article_html(story, publisher, "h1"), PIXEL_COMMENT, pixel_html(base_url, story.id)]
    )
    head = f'<link rel="canonical" href="{_attr(story.canonical_url)}">'
    text_parts = [story.headline, byline(story, publisher)]
    moment = _story_date(story)
    if moment is not None:
        text_parts.append(human_date(moment))
    body_text = clean.to_text(
        clean.clean_html(story.body_html, story.canonical_url), link_targets=True
    )
    if body_text:
        text_parts.append(body_text)
    text_parts.append(credit_text(story, publisher))
    text = "\n\n".join(text_parts) + "\n"
    return Snippet(
        True,
        decision.reason,
        _strip_controls(html + "\n"),
        _strip_controls(head),
        _strip_controls(text),
    )


def guidelines_summary(publisher: Publisher) -> str:
    """A short plain-text summary of the republishing rules, for the widget dialog."""
    licence = publisher.licence
    terms = f"under {licence.title}" if licence.url else "on the terms below"
    summary = (
        f"You may republish this story for free {terms}. "
        f"Credit {publisher.name} and link to the original story, keep the tracking "
        "image and the canonical link, do not change the meaning of the text, and do "
        "not republish the photos or other media."
    )
    if publisher.contact_email:
        summary += f" Questions: {publisher.contact_email}."
    return summary
