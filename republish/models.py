"""Plain data: publishers, stories, revisions and policy decisions. No I/O here."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Licence(StrEnum):
    """The licences a publisher can offer its stories under."""

    CC_BY = "CC-BY-4.0"
    CC_BY_SA = "CC-BY-SA-4.0"
    CC_BY_ND = "CC-BY-ND-4.0"
    CC_BY_NC = "CC-BY-NC-4.0"
    CC_BY_NC_SA = "CC-BY-NC-SA-4.0"
    CC_BY_NC_ND = "CC-BY-NC-ND-4.0"
    CC0 = "CC0-1.0"
    ALL_RIGHTS_RESERVED = "all-rights-reserved"

    @property
    def title(self) -> str:  # type: ignore[override]
        """Human-readable name, as shown in credit lines."""
        return _LICENCE_TITLES[self]

    @property
    def url(self) -> str | None:
        """The licence deed, or None for all rights reserved."""
        return _LICENCE_URLS.get(self)


_LICENCE_TITLES = {
    Licence.CC_BY: "Creative Commons Attribution 4.0",
    Licence.CC_BY_SA: "Creative Commons Attribution-ShareAlike 4.0",
    Licence.CC_BY_ND: "Creative Commons Attribution-NoDerivatives 4.0",
    Licence.CC_BY_NC: "Creative Commons Attribution-NonCommercial 4.0",
    Licence.CC_BY_NC_SA: "Creative Commons Attribution-NonCommercial-ShareAlike 4.0",
    Licence.CC_BY_NC_ND: "Creative Commons Attribution-NonCommercial-NoDerivatives 4.0",
    Licence.CC0: "CC0 1.0 Public Domain Dedication",
    Licence.ALL_RIGHTS_RESERVED: "All rights reserved; republished with permission",
}

_LICENCE_URLS = {
    Licence.CC_BY: "https://creativecommons.org/licenses/by/4.0/",
    Licence.CC_BY_SA: "https://creativecommons.org/licenses/by-sa/4.0/",
    Licence.CC_BY_ND: "https://creativecommons.org/licenses/by-nd/4.0/",
    Licence.CC_BY_NC: "https://creativecommons.org/licenses/by-nc/4.0/",
    Licence.CC_BY_NC_SA: "https://creativecommons.org/licenses/by-nc-sa/4.0/",
    Licence.CC_BY_NC_ND: "https://creativecommons.org/licenses/by-nc-nd/4.0/",
    Licence.CC0: "https://creativecommons.org/publicdomain/zero/1.0/",
}

DEFAULT_LICENCE = Licence.CC_BY_ND

#: Wires and partners whose stories a newsroom usually may not pass on.
#: Names are matched case-insensitively against a story's detected origin.
DEFAULT_EXCLUDED_ORIGINS: tuple[str, ...] = (
    "AP",
    "Reuters",
    "AFP",
    "Bloomberg",
    "JTA",
    "Haaretz",
    "UPI",
    "dpa",
    "EFE",
    "ANSA",
    "Kyodo",
    "Xinhua",
    "TNS",
    "CNN Wire",
)

#: Placeholders a credit template may use, with what they become.
CREDIT_PLACEHOLDERS: dict[str, str] = {
    "publisher": "the publisher's name, linked to its home page",
    "story_link": "the headline, linked to the original story",
    "url": "the original story's URL",
    "headline": "the story's headline",
    "licence": "the licence, linked to its deed when it has one",
    "date": "the original publication date",
}

DEFAULT_CREDIT_TEMPLATE = (
    "This story was originally published by {publisher} as {story_link}. "
    "It is republished here under {licence}."
)


@dataclass(frozen=True)
class SiteProfile:
    """CSS selectors that override automatic extraction on one publisher's own pages.

    Each field is a CSS selector; an empty one leaves that part to automatic extraction.
    """

    body: str = ""  # the element(s) holding the story body
    headline: str = ""
    byline: str = ""  # element(s) whose text is an author name
    published: str = ""  # element whose datetime/content attribute or text is the date
    exclude: tuple[str, ...] = ()  # elements removed from the body before cleaning

    def is_empty(self) -> bool:
        """True when no selector is set."""
        return not (self.body or self.headline or self.byline or self.published or self.exclude)


@dataclass(frozen=True)
class Publisher:
    """A newsroom that offers stories (a tenant)."""

    slug: str
    name: str
    domains: tuple[str, ...] = ()
    licence: Licence = DEFAULT_LICENCE
    credit_template: str = DEFAULT_CREDIT_TEMPLATE
    guidelines_md: str = ""
    canonical_guide_md: str = ""
    contact_email: str = ""
    excluded_origins: tuple[str, ...] = DEFAULT_EXCLUDED_ORIGINS
    excluded_sections: tuple[str, ...] = ()
    excluded_tags: tuple[str, ...] = ()
    excluded_authors: tuple[str, ...] = ()
    show_reason: bool = True
    home_url: str = ""
    site_profile: SiteProfile | None = None
    id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def replace(self, **changes: object) -> Publisher:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Origin:
    """Who a story came from when not the publisher itself, and the evidence found."""

    name: str
    evidence: str
    kind: str  # "dateline" | "credit" | "byline" | "metadata"


@dataclass(frozen=True)
class Extracted:
    """What extraction found on one page or document (nothing stored yet)."""

    headline: str = ""
    dek: str = ""
    bylines: tuple[str, ...] = ()
    published_at: datetime | None = None
    updated_at: datetime | None = None
    canonical_url: str = ""
    section: str = ""
    tags: tuple[str, ...] = ()
    body_html: str = ""
    body_text: str = ""
    origin: Origin | None = None
    site_name: str = ""


@dataclass(frozen=True)
class Override:
    """An editor's decision that replaces the automatic policy for one story."""

    republishable: bool
    reason: str
    actor: str
    at: datetime


@dataclass(frozen=True)
class Story:
    """One article of a publisher, as currently stored (its latest revision)."""

    id: str
    publisher_id: int
    canonical_url: str
    headline: str
    body_html: str
    body_text: str
    dek: str = ""
    bylines: tuple[str, ...] = ()
    published_at: datetime | None = None
    updated_at: datetime | None = None
    section: str = ""
    tags: tuple[str, ...] = ()
    origin: str = ""
    origin_evidence: str = ""
    revision: int = 1
    content_hash: str = ""
    override: Override | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None
    # Set when the story is gone at its source (removed, or its page answers 404/410):
    # a withdrawn story is no longer offered for republication.
    withdrawn_at: datetime | None = None
    withdrawn_reason: str = ""

    def replace(self, **changes: object) -> Story:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Revision:
    """One stored version of a story's content."""

    story_id: str
    revision: int
    content_hash: str
    headline: str
    body_html: str
    body_text: str
    bylines: tuple[str, ...] = ()
    dek: str = ""
    source: str = ""
    created_at: datetime | None = None


@dataclass(frozen=True)
class Source:
    """A place a publisher's stories are read from, polled every ``interval_s`` seconds."""

    id: int
    publisher_id: int
    kind: str  # "feed" | "wordpress" | "sitemap" | "url"
    url: str
    interval_s: int
    next_poll_at: datetime
    etag: str | None = None  # validators of the last good read (conditional requests)
    last_modified: str | None = None
    last_polled_at: datetime | None = None
    last_result: dict[str, int] | None = None  # counts of the last poll
    last_error: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Decision:
    """Whether a story may be republished, and a reason a reader can understand."""

    republishable: bool
    reason: str
    # machine-readable: "ok", "origin", "section", "tag", "author", "override", "withdrawn"
    code: str
    details: dict[str, str] = field(default_factory=dict)
