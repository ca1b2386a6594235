"""The WordPress REST API: ``/wp-json/wp/v2/posts`` with authors and terms embedded.

Posts carry their whole content, so every entry is a story as it is (cleaned by
:func:`republish.clean.clean_html`). Authors come from ``_embedded.author`` (and the
``coauthors`` / ``authors`` fields co-author plugins add), categories give the section,
tags the tags. Pages are read newest-modified first, following ``X-WP-TotalPages``.
"""

from __future__ import annotations

from datetime import datetime

from republish.ingest.sources import Listing, SourceError
from republish.net import Client

__all__ = ["MAX_PAGES", "posts_endpoint", "read_wordpress"]

#: Pages read at most in one run (100 posts each).
MAX_PAGES = 50


def posts_endpoint(site_url: str) -> str:
    """The posts endpoint for a site root (``https://news.example``), its API root
    (``.../wp-json``) or the endpoint itself; raises :class:`SourceError` for a bad URL."""
    raise SourceError("WordPress sites are not read yet")


def read_wordpress(
    client: Client,
    site_url: str,
    *,
    modified_after: datetime | None = None,
    per_page: int = 100,
    max_pages: int = MAX_PAGES,
) -> Listing:
    """Read the posts of the WordPress site at ``site_url``, most recently modified first.

    ``modified_after`` asks only for posts changed since then (WordPress 5.7+). The listing
    is ``complete`` only when every page was read without that filter. Posts whose status
    is not ``publish`` (draft, pending, private, trash) and password-protected posts are
    entries with ``removed=True``; scheduled (``future``) posts are skipped.

    Raises :class:`SourceError` (one line) when the API cannot be read or is not one.
    """
    raise SourceError("WordPress sites are not read yet")
